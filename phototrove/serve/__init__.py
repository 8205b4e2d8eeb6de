"""`trove serve`: the library as a local web app (Starlette on uvicorn). view.py reads the library,
app.py is the HTTP side, security.py says who may use it, static/ is the page itself."""
from __future__ import annotations

import socket
from typing import Callable


def serve(library, *, host: str = "127.0.0.1", port: int = 8765, open_browser: bool = False,
          model: str | None = None, chroma_url: str | None = None,
          say: Callable[[str], None] = print, log: Callable[[str], None] = lambda m: None) -> None:
    """Load the library (and the text tower, once), bind, print the address, serve until Ctrl-C."""
    import uvicorn

    from .app import make_app
    from .security import is_loopback, new_token
    from .view import LibraryView

    view = LibraryView(library, model=model, chroma_url=chroma_url, log=log)
    sock = _bind(host, port)
    port = sock.getsockname()[1]
    token = None if is_loopback(host) else new_token()
    app = make_app(view, host=host, port=port, token=token)
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{port}/" + (f"?token={token}" if token else "")
    say(f"trove: serving {library.root} at {url}" + ("" if view.col is not None else
                                                     " (nothing embedded yet: browsing only)"))
    if token:
        say("trove: anyone who can reach this address needs that token; press Ctrl-C to stop")
    if open_browser:
        import webbrowser

        webbrowser.open(url)
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off", timeout_graceful_shutdown=2)
    try:
        uvicorn.Server(config).run(sockets=[sock])
    except KeyboardInterrupt:   # uvicorn stops gracefully on Ctrl-C, then passes the signal on
        pass
    say("trove: stopped")


def _bind(host: str, port: int) -> socket.socket:
    from ..errors import UsageError

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as e:
        sock.close()
        raise UsageError(f"cannot listen on {host}:{port}: {e.strerror or e}"
                         + (" (another program uses that port: try --port 0 for any free one)"
                            if e.errno == 98 else "")) from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock
