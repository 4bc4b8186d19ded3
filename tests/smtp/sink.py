"""An SMTP sink for the email tests (test equipment): a real SMTP server (aiosmtpd) on a
loopback port that keeps every message it is given and answers as the recipient's local part
says, so that one sink serves every case of a test:

  anything else   250 at the end of DATA (accepted)
  refuse@...      550 to RCPT TO (the reply quotes the address, as real servers do)
  defer@...       451 at the end of DATA, every time
  defer<n>@...    451 at the end of DATA for the first n messages, then 250
  hang@...        no reply at the end of DATA, ever (the client must give up)

Each message reaching the end of DATA, and each refused recipient, is one JSON line appended
to --log: {"mail_from", "rcpt_tos", "data" (base64 of the message as received), "reply"}.
The line "ready" on stdout says the port is bound.

Usage: sink.py --port PORT --log FILE
"""

import argparse
import asyncio
import base64
import json
import re
import sys

from aiosmtpd.smtp import SMTP


class Sink:
    def __init__(self, log):
        self.log = log
        # Messages deferred so far, per recipient.
        self.deferred = {}

    def record(self, envelope, reply, rcpt_tos=None, data=b""):
        line = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": rcpt_tos if rcpt_tos is not None else list(envelope.rcpt_tos),
            "data": base64.b64encode(data).decode("ascii"),
            "reply": reply,
        }
        with open(self.log, "a", encoding="utf-8") as f:
            f.write(json.dumps(line) + "\n")

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower().startswith("refuse@"):
            self.record(envelope, "550", rcpt_tos=[address])
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        first = envelope.rcpt_tos[0].lower()
        data = envelope.original_content or b""
        if first.startswith("hang@"):
            self.record(envelope, "hang", data=data)
            await asyncio.sleep(3600)
        deferral = re.match(r"defer(\d*)@", first)
        if deferral:
            limit = int(deferral.group(1)) if deferral.group(1) else None
            done = self.deferred.get(first, 0)
            if limit is None or done < limit:
                self.deferred[first] = done + 1
                self.record(envelope, "451", data=data)
                return "451 4.3.0 Mail server temporarily unavailable, try again later"
        self.record(envelope, "250", data=data)
        return "250 2.0.0 Message accepted for delivery"


async def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--log", required=True)
    args = parser.parse_args()
    sink = Sink(args.log)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(sink, hostname="sink.test", ident="call-analytics test sink"),
        "127.0.0.1",
        args.port,
    )
    print("ready", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
