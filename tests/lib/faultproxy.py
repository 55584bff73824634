#!/usr/bin/env python3
"""faultproxy: a TCP proxy on loopback for the network-fault tests (tests/e2e/502-*).

    faultproxy.py LISTEN_PORT TARGET_HOST:TARGET_PORT CONTROL_FILE

Forwards 127.0.0.1:LISTEN_PORT to the target. Every 0.1 s it reads CONTROL_FILE, whose first
word is the mode:

    pass    forward (the default, also when the file is missing); resumes a stall
    drop    abort every connection (RST) and stop listening: new connections are refused
    stall   keep every connection open but forward nothing in either direction, and hold new
            connections without connecting them: a peer that hangs, which TCP does not notice
    isolate the connections open now stay stalled for good (never forwarded again, never
            closed); new connections are forwarded: a path that healed for new flows only, the
            old backend never hearing that its client is gone

When a client closes its side, the close is passed on to the server once the connection
forwards again (as a healed network would deliver the FIN), never while it is stalled.

Each mode change and each connection is logged to stderr with a timestamp. Python 3.7+, stdlib
only. Stops on SIGTERM/SIGINT.
"""
import asyncio
import signal
import sys
import time


def log(msg):
    sys.stderr.write("%s faultproxy %s\n" % (time.strftime("%H:%M:%S"), msg))
    sys.stderr.flush()


class Proxy:
    def __init__(self, port, host, target_port, control):
        self.port, self.host, self.target_port, self.control = port, host, target_port, control
        self.mode = "pass"
        self.server = None
        self.conns = set()
        self.gates = {}
        self.accepted = 0
        self.flowing = asyncio.Event()
        self.flowing.set()
        self.frozen = asyncio.Event()  # never set: the gate of an isolated connection

    async def listen(self):
        if self.server is None:
            self.server = await asyncio.start_server(self.client, "127.0.0.1", self.port)

    async def unlisten(self):
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
            self.server = None

    @staticmethod
    async def through(gate):
        while not gate[0].is_set():  # the gate may be swapped while waiting on it
            await gate[0].wait()

    async def pipe(self, reader, writer, gate):
        try:
            while True:
                await self.through(gate)
                data = await reader.read(65536)
                await self.through(gate)  # a stall that began during the read holds the data
                if not data:
                    break
                writer.write(data)
                await writer.drain()
            if writer.can_write_eof():
                writer.write_eof()  # the half-close, as TCP would pass it on
        except (ConnectionError, OSError):
            pass

    async def client(self, creader, cwriter):
        self.accepted += 1
        n = self.accepted
        log("connection %d accepted (mode %s)" % (n, self.mode))
        await self.flowing.wait()
        try:
            ureader, uwriter = await asyncio.open_connection(self.host, self.target_port)
        except OSError as e:
            log("connection %d: upstream refused: %s" % (n, e))
            cwriter.transport.abort()
            return
        conn = (cwriter, uwriter)
        gate = [self.flowing]  # swapped for self.frozen when the connection is isolated
        self.gates[conn] = gate
        self.conns.add(conn)
        try:
            await asyncio.gather(self.pipe(creader, uwriter, gate),
                                 self.pipe(ureader, cwriter, gate))
        finally:
            self.conns.discard(conn)
            self.gates.pop(conn, None)
            for w in conn:
                w.transport.abort()

    async def set_mode(self, mode):
        log("mode %s -> %s (%d open connections)" % (self.mode, mode, len(self.conns)))
        self.mode = mode
        if mode == "stall":
            self.flowing.clear()
            return
        if mode == "isolate":
            for gate in self.gates.values():
                gate[0] = self.frozen
        self.flowing.set()
        if mode == "drop":
            await self.unlisten()
            for conn in list(self.conns):
                for w in conn:
                    w.transport.abort()
        else:
            await self.listen()

    async def run(self):
        await self.listen()
        log("listening on 127.0.0.1:%d -> %s:%d, control %s"
            % (self.port, self.host, self.target_port, self.control))
        while True:
            try:
                with open(self.control) as f:
                    words = f.read().split()
                mode = words[0] if words else "pass"
            except OSError:
                mode = "pass"
            if mode not in ("pass", "drop", "stall", "isolate"):
                mode = "pass"
            if mode != self.mode:
                await self.set_mode(mode)
            await asyncio.sleep(0.1)


def main():
    if len(sys.argv) != 4:
        sys.stderr.write(__doc__)
        sys.exit(2)
    host, _, tport = sys.argv[2].rpartition(":")
    proxy = Proxy(int(sys.argv[1]), host, int(tport), sys.argv[3])
    loop = asyncio.new_event_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, loop.stop)
    loop.create_task(proxy.run())
    loop.run_forever()


if __name__ == "__main__":
    main()
