#!/usr/bin/env python3
"""A client-credentials token service in front of apikeys, and an API that serves a tenant's
rows under row-level security to the bearer of a token.

  POST /token     grant_type=client_credentials, client_id, client_secret (a form, JSON,
                  or HTTP Basic authentication, as OAuth 2.0 clients send them)
                  -> 200 {"access_token": ..., "token_type": "Bearer", "expires_in": 28800}
                  -> 401 {"error": "invalid_client"} / 400 {"error": "invalid_request" | ...}
  GET /reports    Authorization: Bearer <token>
                  -> 200 [{"id": ..., "title": ...}, ...]: the rows of the token's tenant
                  -> 401 (no or bad token), 403 (a token without reports:read)

Each request is one transaction on its own connection: apikeys.authenticate_token binds the
token's key to it, and the table's policy reads the binding (the binding ends with the
transaction, so a pooler in transaction mode is fine). Keys and tokens are passed as bind
parameters and never logged: the access log shows the method, the path and the status only.

  python3 examples/token_service/token_service.py --dsn "dbname=app user=app" --port 8080

Needs Debian's python3-psycopg (psycopg 3) and a role with apikeys.grant_app plus SELECT on
the table (see README).
"""
import argparse
import base64
import json
import sys
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import psycopg

DSN = ""


def claims_of(token):
    """The token's claims (to compute expires_in; the database has checked the signature)."""
    part = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


class Handler(BaseHTTPRequestHandler):
    server_version = "apikeys-token-service/1.0"

    def log_message(self, fmt, *args):
        # The request line holds no secret here (tokens and credentials travel in headers and
        # bodies), but the path is printed without its query string all the same.
        sys.stderr.write("%s %s %s\n" % (self.command, self.path.split("?")[0], args[1] if len(args) > 1 else ""))

    def reply(self, status, body, headers=None):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Cache-Control", "no-store")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def credentials(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode("utf-8", "replace") if length else ""
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip()
        if ctype == "application/json":
            try:
                form = json.loads(raw or "{}")
            except ValueError:
                return None, None, None
            if not isinstance(form, dict):
                return None, None, None
        else:
            form = {k: v[0] for k, v in urllib.parse.parse_qs(raw).items()}
        cid, secret = form.get("client_id"), form.get("client_secret")
        auth = self.headers.get("Authorization") or ""
        if auth.startswith("Basic "):
            try:
                user, _, password = base64.b64decode(auth[6:]).decode().partition(":")
                cid, secret = urllib.parse.unquote(user), urllib.parse.unquote(password)
            except ValueError:
                return None, None, None
        return form.get("grant_type"), cid, secret

    def do_POST(self):
        if self.path != "/token":
            return self.reply(404, {"error": "not_found"})
        grant, cid, secret = self.credentials()
        if grant != "client_credentials":
            return self.reply(400, {"error": "unsupported_grant_type"})
        if not isinstance(cid, str) or not isinstance(secret, str) or not cid or not secret:
            return self.reply(400, {"error": "invalid_request", "error_description": "client_id and client_secret"})
        try:
            with psycopg.connect(DSN, autocommit=True) as conn:
                token = conn.execute("SELECT apikeys.issue_token(%s, %s)", (cid, secret)).fetchone()[0]
        except psycopg.Error as e:
            if e.sqlstate == "28000":  # client credentials refused (the code is in the message)
                return self.reply(401, {"error": "invalid_client"}, {"WWW-Authenticate": 'Basic realm="token"'})
            return self.reply(500, {"error": "server_error"})
        c = claims_of(token)
        return self.reply(200, {"access_token": token, "token_type": "Bearer", "expires_in": c["exp"] - c["iat"]})

    def do_GET(self):
        if self.path != "/reports":
            return self.reply(404, {"error": "not_found"})
        auth = self.headers.get("Authorization") or ""
        if not auth.startswith("Bearer "):
            return self.reply(401, {"error": "invalid_request"}, {"WWW-Authenticate": "Bearer"})
        try:
            with psycopg.connect(DSN) as conn:  # one transaction: the binding ends with it
                code = conn.execute("SELECT code FROM apikeys.authenticate_token(%s)", (auth[7:].strip(),)).fetchone()[0]
                if code != "VALID":
                    return self.reply(401, {"error": "invalid_token", "error_description": code},
                                      {"WWW-Authenticate": 'Bearer error="invalid_token"'})
                if not conn.execute("SELECT apikeys.has_permission('reports:read')").fetchone()[0]:
                    return self.reply(403, {"error": "insufficient_scope", "scope": "reports:read"},
                                      {"WWW-Authenticate": 'Bearer error="insufficient_scope", scope="reports:read"'})
                rows = conn.execute("SELECT id, title FROM reports ORDER BY id").fetchall()
        except psycopg.Error:
            return self.reply(500, {"error": "server_error"})
        return self.reply(200, [{"id": r[0], "title": r[1]} for r in rows])


def main():
    global DSN
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dsn", required=True, help="libpq connection string of the application role")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8080)
    a = p.parse_args()
    DSN = a.dsn
    server = ThreadingHTTPServer((a.host, a.port), Handler)
    print("listening on http://%s:%d" % (a.host, server.server_address[1]), flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
