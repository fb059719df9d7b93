"""After the sale: what the buyer and the seller say to each other about a paid order.

``ProblemReport`` (the buyer reports a problem or asks for a refund; the seller grants, through
the refund services of ``payouts``, or declines; the buyer may then ask the platform team),
``OrderMessage`` (the conversation of one order) and ``Review`` (a rating and a text, once per
shipped order, with one reply of the seller). The models are in ``models.py`` (imported by
``buyers/models.py``), the writes in ``services.py``, the reads in ``selectors.py``.
"""
