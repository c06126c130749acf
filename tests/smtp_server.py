"""A real SMTP server for upwatch's email tests (aiosmtpd): STARTTLS required, AUTH
PLAIN/LOGIN required over TLS. Prints "READY <port>", then one JSON line per message.
Usage: smtp_server.py CERT.pem KEY.pem USER PASSWORD. Stops when stdin closes."""

import asyncio
import json
import socket
import ssl
import sys

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

cert, key, user, password = sys.argv[1:5]


class Handler:
    async def handle_DATA(self, server, session, envelope):
        print(
            json.dumps(
                {
                    "mail_from": envelope.mail_from,
                    "rcpt_tos": envelope.rcpt_tos,
                    "tls": session.ssl is not None,
                    "authenticated": bool(session.authenticated),
                    "data": envelope.content.decode("utf-8", "replace"),
                }
            ),
            flush=True,
        )
        return "250 OK"


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and auth_data.login == user.encode() and auth_data.password == password.encode()
    # handled=False makes aiosmtpd answer "535" itself on a failure.
    return AuthResult(success=ok, handled=False)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
context.load_cert_chain(cert, key)
port = free_port()
controller = Controller(
    Handler(),
    hostname="127.0.0.1",
    port=port,
    server_hostname="localhost",
    tls_context=context,
    require_starttls=True,
    authenticator=authenticator,
    auth_require_tls=True,
)
controller.start()
print(f"READY {port}", flush=True)
try:
    sys.stdin.read()
finally:
    controller.stop()
