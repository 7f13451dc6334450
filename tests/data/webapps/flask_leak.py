"""A Flask app with a deliberate leak: every request appends to a module-level list.

Flask's `request`, `session`, `g` and `current_app` are werkzeug LocalProxy objects that raise
RuntimeError outside a request: the heap agent meets them as module globals of flask."""

import sys

from flask import Flask, g, request, session  # noqa: F401 (the proxies must be module globals here too)

app = Flask(__name__)
REQUEST_LOG = []


@app.route("/")
def index():
    REQUEST_LOG.append({"path": request.path, "body": "x" * 2000 + str(len(REQUEST_LOG))})
    return "ok"


if __name__ == "__main__":
    app.run(host="127.0.0.1", port=int(sys.argv[1]), threaded=True)
