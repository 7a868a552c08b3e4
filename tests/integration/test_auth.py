"""Links authenticate with the herd secret; strangers get nothing."""

import os
import socket
import threading
import time

from herdtest import (AT_RE, Client, Herd, TestFailure, check, iamat, lookup,
                      run_tests, wait_for)

SECRET = "correct horse battery staple 2021\n"


def secret_herd(**kw):
    h = Herd(members=("Riley", "Jaquez"), links=(("Riley", "Jaquez"),),
             herd=dict(kw.pop("herd", {}), secret_file="secret"), **kw)
    with open(os.path.join(h.dir, "secret"), "w") as f:
        f.write(SECRET)
    return h


def test_members_with_the_secret_flood():
    h = secret_herd().start()
    c = h.client("Riley")
    line = c.ask(iamat("authed"))
    wait_for(lambda: lookup(h, "Jaquez", "authed") == line, 10, "flood")
    check(b"link from Riley up" in h.log_text("Jaquez"), "no link")


def test_stranger_without_secret_cannot_inject():
    h = secret_herd().start()
    nonce = "0" * 32
    for auth in ("AUTH -", "AUTH " + "ab" * 32):
        c = Client(h.peer_ports["Riley"])
        c.send("HELLO 1 herd Jaquez Riley 0123456789abcdef %s\n" % nonce)
        welcome = c.line()
        check(welcome.startswith(b"WELCOME 1 0123456789abcdef "), welcome)
        check(len(welcome.split()[-1]) == 64, "Riley sent no MAC")
        c.send(auth + "\nAT Riley +0.000000000 injected +1+1 1800000000\n")
        check(c.line() == b"REFUSE authentication failed", "accepted")
        c.read_to_eof()
        c.close()
    marker = h.client("Riley").ask(iamat("marker"))
    wait_for(lambda: lookup(h, "Jaquez", "marker") == marker, 10, "flood")
    check(lookup(h, "Riley", "injected") is None, "injected on Riley")
    check(b"failed to prove the herd secret" in h.log_text("Riley"),
          "not logged")


class FakeNeighbour:
    """Listens on a neighbour's peer port and records what it is sent."""

    def __init__(self, port, welcome_mac):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen()
        self.mac = welcome_mac
        self.received = []
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        self.sock.settimeout(30)
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            conn.settimeout(10)
            buf = b""
            try:
                while True:
                    chunk = conn.recv(4096)
                    if not chunk:
                        break
                    buf += chunk
                    while b"\n" in buf:
                        line, buf = buf.split(b"\n", 1)
                        self.received.append(line)
                        if line.startswith(b"HELLO "):
                            epoch = line.split()[5].decode()
                            conn.sendall(("WELCOME 1 %s 0 %s %s\n" % (
                                epoch, "1" * 32, self.mac)).encode())
            except OSError:
                pass
            conn.close()

    def close(self):
        self.sock.close()


def test_impostor_neighbour_is_sent_nothing():
    h = secret_herd()
    fake = FakeNeighbour(h.peer_ports["Jaquez"], "cd" * 32)
    try:
        h.start_member("Riley")
        c = h.client("Riley")
        c.ask(iamat("secret.location"))
        wait_for(lambda: any(l.startswith(b"HELLO") for l in fake.received),
                 10, "Riley to try the link")
        wait_for(lambda: b"Jaquez failed to prove the herd secret"
                 in h.log_text("Riley"), 10, "the refusal")
        check(not any(l.startswith(b"AT ") or l.startswith(b"AUTH")
                      for l in fake.received),
              "sent to an impostor: %r" % fake.received)
    finally:
        fake.close()


def test_peer_allow_list_closes_other_addresses():
    h = Herd(members=("Riley", "Jaquez"), links=(("Riley", "Jaquez"),),
             herd={"peer_allow": "127.0.0.2 10.0.0.0/8"}).start()
    s = socket.create_connection(("127.0.0.1", h.peer_ports["Riley"]),
                                 timeout=5)
    s.sendall(b"HELLO 1 herd Jaquez Riley 0123456789abcdef " +
              b"0" * 32 + b"\n")
    try:
        data = s.recv(100)
    except ConnectionResetError:
        data = b""
    s.close()
    check(data == b"", "an address outside peer_allow got %r" % data)
    wait_for(lambda: b"not in peer_allow" in h.log_text("Riley"), 10, "log")


def test_peer_port_flood_is_bounded():
    h = secret_herd().start()
    socks = [socket.create_connection(("127.0.0.1", h.peer_ports["Riley"]))
             for _ in range(300)]
    wait_for(lambda: b"too many peer connections" in h.log_text("Riley"),
             10, "the excess to be refused")
    closed = 0
    for s in socks:
        s.settimeout(0.05)
        try:
            closed += s.recv(1) == b""
        except (socket.timeout, ConnectionResetError):
            closed += 0
    check(closed >= 300 - 2 * 64, "only %d of 300 closed" % closed)
    for s in socks:
        s.close()
    line = h.client("Riley").ask(iamat("after.peer.flood"))
    wait_for(lambda: lookup(h, "Jaquez", "after.peer.flood") == line, 15,
             "flooding after the flood")


def test_bad_secret_file_is_a_start_up_error():
    h = Herd(herd={"secret_file": "missing-secret"})
    h.start(wait=False)
    status = h.proc.wait(10)
    h.proc = None
    check(status != 0, "started without its secret")
    check("secret_file" in h.stderr_text(), h.stderr_text())


if __name__ == "__main__":
    run_tests(globals())
