"""Processing: handlers run once, atomically, in any order; retries, dead letters, replay."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from marketplace.events import services, tasks
from marketplace.events.handling import event_is_stale
from marketplace.events.models import StripeEvent
from marketplace.events.registry import handles
from marketplace.events.services import processing
from tests.events.signing import make_event

pytestmark = pytest.mark.django_db

User = get_user_model()


def sync_profile(event: StripeEvent) -> None:
    """A handler in the style the apps follow: lock the row, move state only forward."""
    obj = event.data_object
    user, _ = User.objects.select_for_update().get_or_create(username=obj["id"])
    # last_login stands for the row's "created of the last applied event".
    if event_is_stale(event=event, applied_at=user.last_login):
        return
    user.first_name = obj["name"]
    user.last_login = event.created
    user.save(update_fields=["first_name", "last_login"])


def profile_event(name: str, created: int, **kwargs) -> dict:
    return make_event(
        "customer.updated",
        created=created,
        obj={"id": "cus_1", "object": "customer", "name": name},
        **kwargs,
    )


def test_good_delivery_is_stored_then_processed_after_commit(
    post_event, handlers, settings, django_capture_on_commit_callbacks
):
    """No broker (the embedded default): the drain runs in-process after the insert commits."""
    settings.CELERY_TASK_ALWAYS_EAGER = True
    handlers["customer.updated"] = sync_profile
    event = profile_event("Ada", 1_700_000_000)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert post_event(event).status_code == 200
    assert len(callbacks) == 1
    stored = StripeEvent.objects.get(stripe_id=event["id"])
    assert stored.status == StripeEvent.Status.SUCCEEDED
    assert stored.attempts == 1
    assert stored.processed_at is not None
    assert User.objects.get(username="cus_1").first_name == "Ada"


def test_unknown_type_is_marked_ignored(post_event, handlers):
    event = make_event("some.new_type")
    post_event(event)
    services.events_drain()
    stored = StripeEvent.objects.get(stripe_id=event["id"])
    assert stored.status == StripeEvent.Status.IGNORED
    assert stored.ignored_reason == "no handler for this event type"


def test_handles_decorator_registers_in_the_registry(post_event, handlers):
    seen = []

    @handles("payout.paid", "payout.failed")
    def on_payout(event):
        seen.append(event.type)

    post_event(make_event("payout.paid"))
    post_event(make_event("payout.failed"))
    services.events_drain()
    assert sorted(seen) == ["payout.failed", "payout.paid"]


def test_duplicate_deliveries_run_the_handler_once(post_event, handlers):
    calls = []
    handlers["account.updated"] = lambda event: calls.append(event.stripe_id)
    event = make_event()
    for _ in range(3):
        post_event(event)
    services.events_drain()
    post_event(event)  # a late duplicate after processing
    services.events_drain()
    assert calls == [event["id"]]


def test_out_of_order_delivery_keeps_the_newest_state(post_event, handlers):
    handlers["customer.updated"] = sync_profile
    older = profile_event("Old name", 1_700_000_000)
    newer = profile_event("New name", 1_700_000_100)
    post_event(newer)
    services.events_drain()
    post_event(older)
    services.events_drain()
    assert User.objects.get(username="cus_1").first_name == "New name"
    assert StripeEvent.objects.filter(status="succeeded").count() == 2


def test_out_of_order_within_one_batch(post_event, handlers):
    handlers["customer.updated"] = sync_profile
    post_event(profile_event("v3", 1_700_000_300))
    post_event(profile_event("v1", 1_700_000_100))
    post_event(profile_event("v2", 1_700_000_200))
    services.events_drain()
    assert User.objects.get(username="cus_1").first_name == "v3"


def test_crash_mid_handler_rolls_back_everything_and_retries(post_event, handlers):
    state = {"crash": True}

    def half_applies(event):
        User.objects.create(username="written-before-the-crash")
        User.objects.filter(username="existing").update(first_name="changed")
        if state["crash"]:
            raise RuntimeError("disk full halfway")

    User.objects.create(username="existing", first_name="original")
    handlers["account.updated"] = half_applies
    event = make_event()
    post_event(event)
    services.events_drain()

    stored = StripeEvent.objects.get(stripe_id=event["id"])
    assert stored.status == StripeEvent.Status.FAILED
    assert stored.attempts == 1
    assert stored.last_error == "RuntimeError: disk full halfway"
    assert "Traceback" in stored.last_traceback and "half_applies" in stored.last_traceback
    assert not User.objects.filter(username="written-before-the-crash").exists()
    assert User.objects.get(username="existing").first_name == "original"

    # Not due yet: backoff.
    assert services.events_drain().processed == 0
    StripeEvent.objects.filter(id=stored.id).update(next_attempt_at=timezone.now())
    state["crash"] = False
    services.events_drain()
    stored.refresh_from_db()
    assert stored.status == StripeEvent.Status.SUCCEEDED
    assert stored.attempts == 2
    assert stored.last_error == ""
    assert User.objects.filter(username="written-before-the-crash").count() == 1


def test_retries_back_off_exponentially_then_dead_letter(post_event, handlers, settings):
    settings.EVENTS_MAX_ATTEMPTS = 4
    settings.EVENTS_RETRY_BASE_SECONDS = 60
    handlers["account.updated"] = lambda event: 1 / 0
    event = make_event()
    post_event(event)
    delays = []
    for _ in range(4):
        before = timezone.now()
        assert services.events_drain().processed == 1
        stored = StripeEvent.objects.get(stripe_id=event["id"])
        if stored.next_attempt_at:
            delays.append(round((stored.next_attempt_at - before).total_seconds() / 60))
            StripeEvent.objects.filter(id=stored.id).update(next_attempt_at=timezone.now())
    assert delays == [1, 2, 4]
    assert stored.status == StripeEvent.Status.DEAD
    assert stored.attempts == 4
    assert stored.next_attempt_at is None
    assert stored.last_error.startswith("ZeroDivisionError")
    assert services.events_drain().processed == 0  # dead letters wait for a replay


def test_retry_delay_is_capped():
    assert services.retry_delay(attempts=1) == timedelta(minutes=1)
    assert services.retry_delay(attempts=30) == timedelta(hours=6)


def test_replay_requeues_dead_and_succeeded_events(post_event, handlers):
    calls = []
    handlers["account.updated"] = lambda event: calls.append(event.stripe_id)
    dead_event, done_event = make_event(), make_event()
    post_event(dead_event)
    post_event(done_event)
    services.events_drain()
    StripeEvent.objects.filter(stripe_id=dead_event["id"]).update(
        status="dead", attempts=8, last_error="Boom"
    )
    ids = StripeEvent.objects.values_list("id", flat=True)
    assert services.events_replay(event_ids=ids) == 2
    services.events_drain()
    assert sorted(calls) == sorted([dead_event["id"], done_event["id"]] * 2)
    for stored in StripeEvent.objects.all():
        assert (stored.status, stored.attempts, stored.last_error) == ("succeeded", 1, "")


def test_replay_leaves_an_event_being_processed_alone(post_event, handlers):
    event = make_event()
    post_event(event)
    StripeEvent.objects.update(status="processing")
    assert services.events_replay(event_ids=StripeEvent.objects.values_list("id", flat=True)) == 0


def test_worker_killed_mid_event_is_processed_again_after_its_lease(post_event, handlers):
    """A claim whose worker died stays ``processing`` until the lease ends, then is retried."""
    calls = []
    handlers["account.updated"] = lambda event: calls.append(event.stripe_id)
    event = make_event()
    post_event(event)
    claimed = services.events_claim()
    assert [e.stripe_id for e in claimed] == [event["id"]]
    # ... the worker is killed here: its transaction never committed anything.
    assert services.events_claim() == []  # nobody else takes it meanwhile
    assert services.events_release_expired() == 0
    StripeEvent.objects.update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    assert services.events_release_expired() == 1
    services.events_drain()
    stored = StripeEvent.objects.get()
    assert stored.status == "succeeded"
    assert stored.attempts == 2
    assert calls == [event["id"]]


def test_a_stale_claim_cannot_commit_its_handler(post_event, handlers):
    """If the lease ended and another worker re-claimed, the first worker's writes roll back."""
    handlers["account.updated"] = lambda event: User.objects.create(username=event.stripe_id)
    post_event(make_event())
    [first] = services.events_claim()
    StripeEvent.objects.update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    services.events_release_expired()
    [second] = services.events_claim()
    assert services.event_process(event=first) == "processing"
    assert not User.objects.exists()
    assert services.event_process(event=second) == "succeeded"
    assert User.objects.count() == 1


def test_retry_task_drains_due_failures(post_event, handlers, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    state = {"fail": True}

    def flaky(event):
        if state["fail"]:
            raise ValueError("Stripe said 500")

    handlers["account.updated"] = flaky
    post_event(make_event())
    services.events_drain()
    state["fail"] = False
    StripeEvent.objects.update(next_attempt_at=timezone.now())
    tasks.retry_due_events.apply()
    assert StripeEvent.objects.get().status == "succeeded"


def test_drain_task_processes_in_batches(post_event, handlers, settings):
    calls = []
    handlers["account.updated"] = lambda event: calls.append(event.stripe_id)
    for _ in range(7):
        post_event(make_event())
    result = services.events_drain(batch_size=3)
    assert result.processed == 7 and not result.more
    assert len(calls) == 7
    assert tasks.drain_events.apply().get() == 0


def test_drain_lingers_for_events_committed_just_after_it_started(handlers, monkeypatch):
    """A process that skipped its wake-up (it had just sent one) relies on the drain lingering."""
    calls = []
    handlers["account.updated"] = lambda event: calls.append(event.stripe_id)
    late = make_event()
    original_sleep = processing.time.sleep
    stored = []

    def sleep_then_store(seconds):
        # The event commits while the drain, finding nothing, is lingering.
        if not stored:
            stored.append(services.event_store(event=late, source="platform"))
        original_sleep(seconds)

    monkeypatch.setattr(processing.time, "sleep", sleep_then_store)
    result = services.events_drain(linger=0.2)
    assert calls == [late["id"]]
    assert result.processed == 1


def test_worker_dying_mid_batch_leaves_nothing_applied_then_everything_once(post_event, handlers):
    """SystemExit stands for the worker being killed inside a handler: not an error to record."""
    state = {"die": True}

    def write_then_maybe_die(event):
        User.objects.create(username=event.stripe_id)
        if state["die"] and event.stripe_id == "evt_second":
            raise SystemExit("worker killed")

    handlers["account.updated"] = write_then_maybe_die
    post_event(make_event(stripe_id="evt_first"))
    post_event(make_event(stripe_id="evt_second"))
    with pytest.raises(SystemExit):
        services.events_drain()
    # Nothing of the batch is applied, not even the first event's completed handler.
    assert not User.objects.exists()
    assert set(StripeEvent.objects.values_list("status", flat=True)) == {"processing"}
    # The claims expire; the events run again, each exactly once.
    state["die"] = False
    StripeEvent.objects.update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    assert services.events_release_expired() == 2
    services.events_drain()
    assert sorted(User.objects.values_list("username", flat=True)) == ["evt_first", "evt_second"]
    assert set(StripeEvent.objects.values_list("status", flat=True)) == {"succeeded"}


def _customer_key(event):
    return str(event.data_object.get("id") or "") or None


def test_events_of_one_object_in_a_batch_are_handled_together_once(post_event, handlers):
    """A group handler gets every event of the batch with the same key, once; the events of
    other keys (or alone) go to the usual handler; all of them succeed."""
    from marketplace.events.registry import handles_together

    alone, together = [], []
    handlers["customer.updated"] = lambda event: alone.append(event.data_object["name"])

    @handles_together("customer.updated", key=_customer_key)
    def both(events):
        together.append(sorted(e.data_object["name"] for e in events))

    for name in ("a1", "a2", "a3"):
        post_event(
            make_event("customer.updated", obj={"id": "cus_a", "object": "customer", "name": name})
        )
    post_event(
        make_event("customer.updated", obj={"id": "cus_b", "object": "customer", "name": "b"})
    )
    services.events_drain()
    assert together == [["a1", "a2", "a3"]]
    assert alone == ["b"]
    assert set(StripeEvent.objects.values_list("status", flat=True)) == {"succeeded"}


def test_a_failing_group_fails_all_its_events_and_only_them(post_event, handlers):
    from marketplace.events.registry import handles_together

    def profile(event):
        User.objects.create(username=event.data_object["name"])

    handlers["customer.updated"] = profile

    @handles_together("customer.updated", key=_customer_key)
    def crashes(events):
        User.objects.create(username="half-written")
        raise RuntimeError("the group's handler broke")

    for name in ("x1", "x2"):
        post_event(
            make_event("customer.updated", obj={"id": "cus_x", "object": "customer", "name": name})
        )
    post_event(
        make_event("customer.updated", obj={"id": "cus_y", "object": "customer", "name": "y"})
    )
    services.events_drain()
    statuses = dict(StripeEvent.objects.values_list("payload__data__object__name", "status"))
    assert statuses == {"x1": "failed", "x2": "failed", "y": "succeeded"}
    assert StripeEvent.objects.get(payload__data__object__name="x1").last_error == (
        "RuntimeError: the group's handler broke"
    )
    assert User.objects.filter(username="y").exists()
    assert not User.objects.filter(username="half-written").exists()
    # Retried later one by one or together, with the group handler fixed: both succeed.
    StripeEvent.objects.update(next_attempt_at=timezone.now())

    def fixed(events):
        for event in events:
            profile(event)

    from marketplace.events import registry

    registry._groups["customer.updated"] = (_customer_key, fixed)  # the fix deployed
    services.events_drain()
    assert User.objects.filter(username__in=["x1", "x2"]).count() == 2
    assert set(StripeEvent.objects.values_list("status", flat=True)) == {"succeeded"}
