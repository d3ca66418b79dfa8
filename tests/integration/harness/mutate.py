"""Mutations of SIP messages, as a black-box fuzzer sends them: bytes flipped, lines
duplicated, dropped or swapped, huge headers, bad lengths, duplicated single-valued
headers, odd Contacts, truncation, NUL bytes, bare LF; and SDP bodies mutated in
structure inside sound SIP (extreme numbers, hostile attributes, keys and codecs,
repeated media lines, other profiles), with offers and answers of random shape to
start from. Deterministic for a given random.Random, so a failing run is reproduced
from its seed.
"""
import base64
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


# ---- SDP bodies, mutated in structure (the SIP message around them stays sound) ----

CODECS = ((0, "PCMU/8000", None), (8, "PCMA/8000", None),
          (111, "opus/48000/2", "minptime=10;useinbandfec=1"),
          (101, "telephone-event/8000", "0-16"), (102, "telephone-event/48000", "0-15"))
NASTY_ATTRS = (
    b"a=rtpmap:111 opus/48000", b"a=rtpmap:111 opus/48000/0", b"a=rtpmap:111 OPUS/8000/2",
    b"a=rtpmap:0 PCMU/0", b"a=rtpmap:101 telephone-event/0", b"a=rtpmap:127 x/1/1/1",
    b"a=rtpmap:96", b"a=rtpmap:300 PCMU/8000", b"a=rtpmap:-1 PCMU/8000",
    b"a=fmtp:111 maxplaybackrate=0;sprop-maxcapturerate=4294967296;stereo=2",
    b"a=fmtp:111 ptime=0;maxptime=-1;useinbandfec=7;usedtx=x;maxaveragebitrate=1",
    b"a=fmtp:111 ;;;=;==;a=", b"a=fmtp:101 0-99999999999", b"a=fmtp:101 16-0,,,-,",
    b"a=ptime:0", b"a=ptime:100000", b"a=ptime:-20", b"a=ptime:2.5", b"a=maxptime:0",
    b"a=rtcp:0", b"a=rtcp:70000 IN IP4 127.0.0.1", b"a=rtcp:abc", b"a=rtcp:9 IN IP6 ::1",
    b"a=rtcp-mux", b"a=rtcp-mux-only", b"a=sendonly", b"a=recvonly", b"a=inactive",
    b"a=sendrecv", b"a=ssrc:0 cname:x", b"a=setup:actpass", b"a=mid:",
    b"a=fingerprint:sha-256 00", b"a=ice-ufrag:x", b"a=candidate:1 1 UDP 1 127.0.0.1 9 typ host",
    b"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:AAAA",
    b"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" + b"A" * 40 + b"|2^99|1:300",
    b"a=crypto:999999999999 AES_CM_128_HMAC_SHA1_32 inline:" + b"B" * 40,
    b"a=crypto:2 AES_256_CM_HMAC_SHA1_80 inline:" + b"C" * 60,
    b"a=crypto:3 AES_CM_128_HMAC_SHA1_80 inline:" + b"D" * 40 + b" KDR=99 UNENCRYPTED_SRTP",
    b"a=crypto:4 AES_CM_128_HMAC_SHA1_80 inline:!!!!" + b"=" * 36,
    b"a=crypto:5 AES_CM_128_HMAC_SHA1_80",
    b"a=crypto:", b"a=", b"a=x" * 1000, b"b=AS:-1", b"b=TIAS:99999999999999999999",
    b"c=IN IP6 ::1", b"c=IN IP4 0.0.0.0", b"c=IN IP4 256.1.1.1", b"c=IN IP4 host.invalid",
    b"c=IN IP4 224.2.1.1/127/3", b"c=IN IP4", b"c=", b"m=audio 0 RTP/AVP 0",
    b"m=video 9 RTP/AVP 96", b"m=audio 9 RTP/SAVPF 111", b"m=image 9 udptl t38",
    b"m=audio 9", b"m=audio 9 RTP/AVP " + b" ".join(b"%d" % i for i in range(128)),
    b"o=- 1 1 IN IP4", b"v=1", b"t=x y", b"s=", b"k=clear:x", b"i=\xff\xfe")
EXTREMES = (b"0", b"1", b"-1", b"65535", b"65536", b"2147483647", b"2147483648",
            b"4294967295", b"4294967296", b"18446744073709551616", b"99999999999999999999",
            b"00000000000000000000000001", b"")
PROTOS = (b"RTP/AVP", b"RTP/SAVP", b"RTP/AVPF", b"RTP/SAVPF", b"UDP/TLS/RTP/SAVPF",
          b"TCP/RTP/AVP", b"udp", b"RTP/avp", b"", b"RTP/AVP/TCP")


def sdp_offer(r, ip, port):
    """An audio offer of random shape: some of PCMU, PCMA, Opus and telephone-event,
    plain, SRTP (RTP/SAVP) or best-effort SRTP (RTP/AVP with keys), rtcp-mux, ptime, a
    direction, sometimes a video line."""
    codecs = [c for c in CODECS if r.random() < 0.6] or [CODECS[0]]
    r.shuffle(codecs)
    mode = r.choice(("plain", "plain", "savp", "best_effort"))
    lines = [b"v=0", b"o=- %d 1 IN IP4 %s" % (r.randint(1, 10**9), ip.encode()), b"s=-",
             b"c=IN IP4 %s" % ip.encode(), b"t=0 0",
             b"m=audio %d %s %s" % (port, b"RTP/SAVP" if mode == "savp" else b"RTP/AVP",
                                    b" ".join(b"%d" % p for p, _, _ in codecs))]
    for p, name, fmtp in codecs:
        lines.append(b"a=rtpmap:%d %s" % (p, name.encode()))
        if fmtp:
            lines.append(b"a=fmtp:%d %s" % (p, fmtp.encode()))
    if mode != "plain":
        for tag in range(1, r.randint(1, 3) + 1):
            suite = r.choice((b"AES_CM_128_HMAC_SHA1_80", b"AES_CM_128_HMAC_SHA1_32"))
            key = bytes(r.randrange(256) for _ in range(30))
            lines.append(b"a=crypto:%d %s inline:%s" % (tag, suite, base64.b64encode(key)))
    for attr, p in ((b"a=rtcp-mux", 0.3), (b"a=ptime:%d" % r.choice((10, 20, 30, 40, 60)), 0.4),
                    (r.choice((b"a=sendonly", b"a=recvonly", b"a=inactive")), 0.15)):
        if r.random() < p:
            lines.append(attr)
    if r.random() < 0.15:
        lines += [b"m=video %d RTP/AVP 96" % (port + 2), b"a=rtpmap:96 H264/90000"]
    return b"\r\n".join(lines) + b"\r\n"


def sdp_answer(r, offer, ip, port):
    """A well-formed answer to a (well-formed part of an) offer: the offer's profile, one
    of its codecs trunx knows (and telephone-event), the first key's tag with a fresh
    key; lines it cannot read are ignored. b"" when nothing is answerable."""
    text = offer.decode("latin-1")
    m = re.search(r"(?m)^m=audio \d+ (\S+) ([\d ]+)", text)
    if not m:
        return b""
    names = dict((int(p), n) for p, n in re.findall(r"(?m)^a=rtpmap:(\d+) (\S+)", text))
    static = {0: "PCMU/8000", 8: "PCMA/8000"}
    pts = [int(p) for p in m.group(2).split()]
    usable = [p for p in pts if (names.get(p) or static.get(p) or "").split("/")[0].lower()
              in ("pcmu", "pcma", "opus")]
    if not usable:
        return b""
    pick = r.choice(usable)
    ans = [pick] + [p for p in pts if (names.get(p) or "").lower().startswith(
        "telephone-event")][:1]
    lines = [b"v=0", b"o=- %d 1 IN IP4 %s" % (r.randint(1, 10**9), ip.encode()), b"s=-",
             b"c=IN IP4 %s" % ip.encode(), b"t=0 0",
             b"m=audio %d %s %s" % (port, m.group(1).encode(),
                                    b" ".join(b"%d" % p for p in ans))]
    for p in ans:
        if p in names:
            lines.append(b"a=rtpmap:%d %s" % (p, names[p].encode()))
    c = re.search(r"(?m)^a=crypto:(\d+) (\S+) inline:", text)
    if c:
        key = base64.b64encode(bytes(r.randrange(256) for _ in range(30)))
        lines.append(b"a=crypto:%s %s inline:%s" % (c.group(1).encode(), c.group(2).encode(),
                                                    key))
    if "a=rtcp-mux" in text:
        lines.append(b"a=rtcp-mux")
    return b"\r\n".join(lines) + b"\r\n"


def _sdp_lines(body):
    return [l for l in body.split(b"\r\n") if l]


def sdp_number(r, lines):
    i = r.randrange(len(lines))
    nums = list(re.finditer(rb"\d+", lines[i]))
    if nums:
        n = r.choice(nums)
        lines[i] = lines[i][:n.start()] + r.choice(EXTREMES) + lines[i][n.end():]


def sdp_insert(r, lines):
    lines.insert(r.randrange(1, len(lines) + 1), r.choice(NASTY_ATTRS))


def sdp_dup(r, lines):
    i = r.randrange(len(lines))
    lines.insert(i, lines[i])


def sdp_drop(r, lines):
    if len(lines) > 1:
        del lines[r.randrange(len(lines))]


def sdp_swap(r, lines):
    i, j = r.randrange(len(lines)), r.randrange(len(lines))
    lines[i], lines[j] = lines[j], lines[i]


def sdp_dup_media(r, lines):
    ms = [i for i, l in enumerate(lines) if l.startswith(b"m=")]
    if ms:
        i = r.choice(ms)
        j = next((k for k in range(i + 1, len(lines)) if lines[k].startswith(b"m=")),
                 len(lines))
        lines[j:j] = lines[i:j] * r.choice((1, 2, 40))


def sdp_proto(r, lines):
    ms = [i for i, l in enumerate(lines) if l.startswith(b"m=")]
    if ms:
        i = r.choice(ms)
        f = lines[i].split(b" ")
        if len(f) > 2:
            f[2] = r.choice(PROTOS)
            lines[i] = b" ".join(f)


def sdp_flip(r, lines):
    i = r.randrange(len(lines))
    b = bytearray(lines[i])
    for _ in range(r.randint(1, 3)):
        if b:
            b[r.randrange(len(b))] = r.choice(b" =:/;,-0123456789\x00\xff\t" +
                                              bytes([r.randrange(32, 127)]))
    lines[i] = bytes(b).replace(b"\r", b" ").replace(b"\n", b" ")


def sdp_long(r, lines):
    i = r.randrange(len(lines))
    lines[i] = lines[i] + r.choice((b" 0", b";x=1", b" a", b"/")) * r.choice((100, 2000))


SDP_MUTATORS = (sdp_number, sdp_number, sdp_insert, sdp_insert, sdp_dup, sdp_drop, sdp_swap,
                sdp_dup_media, sdp_proto, sdp_flip, sdp_long)


def mutate_sdp(r, body, rounds=None):
    """One to three structural mutations of an SDP body (lines CRLF-ended)."""
    lines = _sdp_lines(body) or [b"v=0"]
    for _ in range(rounds or r.randint(1, 3)):
        r.choice(SDP_MUTATORS)(r, lines)
        lines = lines or [b"v=0"]
    return b"\r\n".join(lines)[:20000] + b"\r\n"


def with_body(msg, body):
    """msg with its body replaced and Content-Length set to match (the message stays
    sound SIP: what trunx reads is the SDP)."""
    lines, _ = _split(msg)
    lines = [l for l in lines if not re.match(rb"(?i)(content-length|l)\s*:", l)]
    if body and not any(re.match(rb"(?i)(content-type|c)\s*:", l) for l in lines):
        lines.append(b"Content-Type: application/sdp")
    lines.append(b"Content-Length: %d" % len(body))
    return _join(lines, body)
