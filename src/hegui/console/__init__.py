"""The web console for trust & safety staff, served by the gateway at ``/console``.

Server-rendered Jinja2 pages with a little vanilla JavaScript. The console has no business logic of
its own: every page reads or acts through the same service functions the admin REST API calls.
Only its own concern lives here: staff accounts (argon2 passwords, lock-out, roles), sessions with
CSRF tokens, the zh-CN/English message catalogue and the templates.

Kept import-light (no FastAPI here) so `hegui.config` can import `ConsoleConfig`.
"""

from hegui.console.config import ConsoleConfig

__all__ = ["ConsoleConfig"]
