"""The project root, above every app: the root URL configuration (``project.urls``) that mounts
the apps. The core (``marketplace``) imports no app, so what wires them all together lives here."""
