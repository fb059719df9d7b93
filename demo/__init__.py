"""The demo data ``make demo`` loads. It sits above every app (it lists their seeders); nothing
imports it."""
