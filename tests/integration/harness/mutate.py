"""Mutations of SIP messages, as a black-box fuzzer sends them: bytes flipped, lines
duplicated, dropped or swapped, huge headers, bad lengths, duplicated single-valued
headers, odd Contacts, truncation, NUL bytes, bare LF. Deterministic for a given
random.Random, so a failing run is reproduced from its seed.
"""
import re

SINGLE_HEADERS = (b"Max-Forwards", b"CSeq", b"Call-ID", b"From", b"To", b"Content-Length",
                  b"Content-Type", b"Date", b"Session-Expires", b"Min-SE", b"Expires",
                  b"RSeq", b"RAck")
ODD_CONTACTS = (b"*", b"<tel:+15551234567>", b"<sip:@>", b"<sip:a@b:99999>", b"<>",
                b"<sips:x@127.0.0.1>", b"<sip:x@host.invalid>", b"<mailto:a@b>",
                b"<sip:x@127.0.0.1;transport=sctp>", b"<sip:x@127.0.0.1;maddr=..>",
                b"<sip:x@[::1>", b"sip:x@127.0.0.1?Route=x", b"\"\\\" <sip:a@b>",
                b"<sip:x@127.0.0.99:5060>")


def _split(msg):
    head, sep, body = msg.partition(b"\r\n\r\n")
    if not sep:
        return msg.split(b"\r\n"), b""
    return head.split(b"\r\n"), body


def _join(lines, body):
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def flip_bytes(r, msg):
    b = bytearray(msg)
    for _ in range(r.randint(1, 6)):
        if b:
            b[r.randrange(len(b))] = r.randrange(256)
    return bytes(b)


def dup_line(r, msg):
    lines, body = _split(msg)
    if len(lines) > 1:
        i = r.randrange(1, len(lines))
        lines.insert(i, lines[i])
    return _join(lines, body)


def drop_line(r, msg):
    lines, body = _split(msg)
    if len(lines) > 1:
        del lines[r.randrange(1, len(lines))]
    return _join(lines, body)


def swap_lines(r, msg):
    lines, body = _split(msg)
    if len(lines) > 2:
        i, j = r.randrange(len(lines)), r.randrange(len(lines))
        lines[i], lines[j] = lines[j], lines[i]
    return _join(lines, body)


def huge_header(r, msg):
    lines, body = _split(msg)
    n = r.choice((1000, 8000, 30000, 60000))
    name = r.choice((b"X-Big", b"Subject", b"Via", b"Contact", b"Record-Route", b"Allow"))
    lines.insert(r.randrange(1, len(lines) + 1), name + b": " + b"a" * n)
    return _join(lines, body)


def bad_length(r, msg):
    v = r.choice((b"-1", b"999999", b"0", b"abc", b"18446744073709551617", b"5 5", b""))
    out, n = re.subn(rb"(?im)^(content-length|l)\s*:[^\r\n]*", b"Content-Length: " + v, msg,
                     count=1)
    return out if n else msg


def dup_single(r, msg):
    lines, body = _split(msg)
    name = r.choice(SINGLE_HEADERS)
    for l in lines[1:]:
        if l.lower().startswith(name.lower() + b":"):
            lines.insert(r.randrange(1, len(lines) + 1), l)
            break
    else:
        lines.insert(1, name + b": 70")
    return _join(lines, body)


def odd_contact(r, msg):
    c = r.choice(ODD_CONTACTS)
    out, n = re.subn(rb"(?im)^(contact|m)\s*:[^\r\n]*", b"Contact: " + c, msg, count=1)
    if not n:
        lines, body = _split(out)
        lines.insert(1, b"Contact: " + c)
        out = _join(lines, body)
    return out


def truncate(r, msg):
    return msg[:r.randrange(1, len(msg))] if len(msg) > 1 else msg


def nul_bytes(r, msg):
    i = r.randrange(len(msg)) if msg else 0
    return msg[:i] + b"\x00" * r.randint(1, 4) + msg[i:]


def bare_lf(r, msg):
    return msg.replace(b"\r\n", b"\n")


def method_swap(r, msg):
    lines, body = _split(msg)
    if lines and b" " in lines[0] and not lines[0].startswith(b"SIP/"):
        meth = r.choice((b"INVITE", b"BYE", b"CANCEL", b"ACK", b"UPDATE", b"PRACK", b"INFO",
                         b"OPTIONS", b"REFER", b"NOTIFY", b"MESSAGE", b"FOO"))
        lines[0] = meth + lines[0][lines[0].index(b" "):]
    return _join(lines, body)


MUTATORS = (flip_bytes, dup_line, drop_line, swap_lines, huge_header, bad_length,
            dup_single, odd_contact, truncate, nul_bytes, bare_lf, method_swap)


def mutate(r, msg, rounds=None):
    """One to three mutations (or `rounds`) of msg."""
    for _ in range(rounds or r.randint(1, 3)):
        msg = r.choice(MUTATORS)(r, msg)
    return msg
