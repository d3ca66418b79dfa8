#!/usr/bin/env python3
"""Live media control through the HTTP API (trunxd in database mode, real Postgres and
Redis, SIPp at both ends): on a call from the carrier to tenant acme's DID,

  dtmf     acme's key sends "12#" to the callee: 202, and trunxd logs each digit as
           call.dtmf from source "api" on leg b; bad digits, a bad leg, an unknown
           field are 422 naming the field
  play     a small WAV is accepted (202) and call.play follows; a file that is not a
           WAV, a missing one, a relative path are 422 with the loader's reason
  record   start (202), a second start (409 recording_running), stop (200): call.record
           names the file, a WAV with audio; then another stop is 409 not_recording
  amd      202 "detecting"
  transfer mode bridge to a number only the carrier (no uri) routes: 422 on "to"
           (REFER and bridge transfers: tests/integration/xfer)
  bravo    another tenant's key gets 404 on every one of them, whatever the body."""
import math
import os
import shutil
import struct
import sys
import tempfile
import wave

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import case, dbmode, procs  # noqa: E402

import apimode  # noqa: E402
from api_test import world  # noqa: E402
from apiclient import expect  # noqa: E402


def write_tone(path, seconds=0.4, hz=440, rate=8000):
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        n = int(seconds * rate)
        w.writeframes(b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * hz * i /
                                                                       rate)))
                               for i in range(n)))


def case_media(ctx):
    from harness import calls
    media = tempfile.mkdtemp(prefix="trunx-apimedia-")   # [api] media_dir
    ctx.at_end(lambda: shutil.rmtree(media, ignore_errors=True))
    tmp = os.path.join(media, "acme")                    # what acme's key reaches
    os.mkdir(tmp)
    write_tone(os.path.join(tmp, "tone.wav"))
    write_tone(os.path.join(media, "ops.wav"))           # an operator's, not acme's
    with open(os.path.join(tmp, "notes.wav"), "w") as f:
        f.write("this is not a WAV file\n" * 10)
    prompt, notwav = "tone.wav", "notes.wav"             # names relative to the folder
    u = calls.uas(ctx, "uas_basic.xml", calls=1, timeout=60)
    a = apimode.start(ctx, extra={"media_dir": media})
    w = world(ctx, a, u.port)
    dbmode.wait_routing(a.t, lambda m: "1 carriers" in m and "2 DIDs" in m, timeout=10)
    c = calls.uac(ctx, "uac_wait_bye.xml", a.t.sip_addr, service="+15557770001",
                  local_ip="127.0.0.2", timeout=60)
    acme, bravo = w["acme"]["api"], w["bravo"]["api"]
    ok = procs.wait_until(lambda: [x for x in acme.get("/v1/calls").json["data"]
                                   if x["state"] == "answered"], 10, 0.1)
    assert ok, acme.get("/v1/calls")
    cid = acme.get("/v1/calls").json["data"][0]["id"]
    url = "/v1/calls/%s/" % cid
    rec = "call.wav"
    rec_path = os.path.join(tmp, rec)

    # The OpenAPI document describes each operation's body.
    doc = expect(a.anon.get("/v1/openapi.json"), 200).json
    schemas = doc["components"]["schemas"]
    for op, schema, props in (("dtmf", "CallDtmf", {"digits", "leg", "duration_ms"}),
                              ("play", "CallPlay", {"file", "leg", "mix"}),
                              ("record", "CallRecord", {"path", "stop"}),
                              ("amd", "CallAmd", {"leg"}),
                              ("transfer", "CallTransfer", {"to", "leg", "mode"})):
        body = doc["paths"]["/v1/calls/{id}/" + op]["post"]["requestBody"]
        assert schema in str(body) and set(schemas[schema]["properties"]) == props, \
            (op, body, schemas.get(schema))
    assert "CallMedia" not in schemas

    # Another tenant learns nothing, whatever it sends: 404 before the body is judged.
    for op, body in (("dtmf", {"digits": "1"}), ("dtmf", {}), ("dtmf", {"digits": "x!"}),
                     ("play", {"file": prompt}), ("record", {"path": rec}),
                     ("record", {"stop": True}), ("amd", {}), ("transfer", {"to": "+15551"})):
        expect(bravo.post(url + op, body), 404, "not_found")
    expect(acme.post("/v1/calls/nosuchcall/dtmf", {"digits": "1"}), 404, "not_found")
    assert not os.path.exists(rec_path) and not os.path.exists(os.path.join(media, "bravo"))

    # dtmf: field checks, then digits sent to the callee (leg b by default).
    for body, field in (({"digits": "12x"}, "digits"), ({"digits": ""}, "digits"),
                        ({"digits": "1" * 33}, "digits"), ({}, "digits"),
                        ({"digits": "1", "leg": "c"}, "leg"),
                        ({"digits": "1", "duration_ms": 5}, "duration_ms"),
                        ({"digits": "1", "bogus": 1}, "bogus"), ({"digits": 12}, "digits")):
        r = acme.post(url + "dtmf", body)
        assert r.status == 422 and r.json.get("field") == field, (body, r)
    r = expect(acme.post(url + "dtmf", {"digits": "12#", "duration_ms": 80}), 202).json
    assert r["sent"] == 3 and r["leg"] == "b" and r["result"] == "sent", r
    recs = a.t.wait_events("call.dtmf", 3, 10)
    api = [x for x in recs if x.get("data", {}).get("source") == "api"]
    assert "".join(x["data"].get("digit", "") for x in api) == "12#", recs
    assert all(x["data"].get("leg") == "b" for x in api), api

    # play: the loader's reason for a bad file; a good one plays and is logged.
    r = expect(acme.post(url + "play", {"file": notwav, "leg": "a"}), 422, "invalid_prompt")
    assert r.json["field"] == "file" and len(r.json["message"]) > len("file: "), r
    r = expect(acme.post(url + "play", {"file": "none.wav"}), 422, "invalid_prompt")
    assert "none.wav" in r.json["message"] and media not in r.json["message"], r
    # Nothing outside acme's folder: absolute paths, . and .. parts, hidden names.
    for bad in (os.path.join(tmp, "tone.wav"), "../ops.wav", "../acme/tone.wav", "./tone.wav",
                "a//b.wav", "tone.wav/", ".hidden.wav", "x/../../ops.wav", "/etc/passwd",
                "tone.wav\n"):
        r = acme.post(url + "play", {"file": bad})
        assert r.status == 422 and r.json.get("error") == "invalid_value" and \
            r.json.get("field") == "file", (bad, r)
    expect(acme.post(url + "play", {"leg": "a"}), 422, "missing_field")
    r = expect(acme.post(url + "play", {"file": prompt, "leg": "a"}), 202).json
    assert r["result"] == "playing", r
    plays = a.t.wait_events("call.play", 1, 10)
    assert plays and plays[0].get("data", plays[0])["leg"] == "a", plays

    # record: start, conflict, stop, conflict; the file is a WAV with some audio.
    expect(acme.post(url + "record", {}), 422, "missing_field")
    expect(acme.post(url + "record", {"path": "nonexistent-dir/x.wav"}), 422,
           "invalid_value")
    for bad in ("/tmp/x.wav", "../x.wav", "../bravo/x.wav"):
        expect(acme.post(url + "record", {"path": bad}), 422, "invalid_value")
    expect(acme.post(url + "record", {"path": rec, "stop": True}), 422, "invalid_value")
    assert expect(acme.post(url + "record", {"path": rec}), 202).json["result"] == "recording"
    expect(acme.post(url + "record", {"path": rec + "2"}), 409, "recording_running")
    procs.wait_until(lambda: False, 1.0, 0.1)   # a second of the call on file
    assert expect(acme.post(url + "record", {"stop": True}), 200).json["result"] == "stopped"
    recd = a.t.wait_events("call.record", 1, 10)
    assert recd and recd[0].get("data", recd[0])["path"] == rec_path, recd
    # The recording ends with its call.record (the file closed): nothing left to stop.
    expect(acme.post(url + "record", {"stop": True}), 409, "not_recording")
    frames = recd[0].get("data", recd[0])["frames"]

    def closed():
        # call.record comes from the media worker; the writer thread finishes the
        # file's header a moment later.
        try:
            with wave.open(rec_path, "rb") as wv:
                return wv.getnframes() >= frames and (wv.getparams(),
                                                      wv.readframes(wv.getnframes()))
        except (OSError, EOFError, wave.Error):
            return None
    got = procs.wait_until(closed, 5, 0.1)
    assert got, (frames, os.listdir(tmp))
    params, data = got
    samples = struct.unpack("<%dh" % (len(data) // 2), data) if params.sampwidth == 2 else ()
    peak = max((abs(v) for v in samples), default=0)
    ctx.log("recording: %s, peak %d", params, peak)
    # About a second of the callee's G.711 audio (SIPp plays it from its answer on).
    assert params.framerate == 8000 and params.sampwidth == 2, params
    assert params.nframes >= 4000 and peak > 100, (params, peak)

    # amd starts; a transfer by a new leg (bridge) to a number no usable trunk takes.
    assert expect(acme.post(url + "amd", {"leg": "b"}), 202).json["result"] == "detecting"
    expect(acme.post(url + "amd", {"leg": "x"}), 422, "invalid_value")
    r = acme.post(url + "transfer", {"to": "+15551230000", "mode": "bridge"})
    assert r.status == 422 and r.json.get("field") == "to", r

    # The call is unharmed: hang it up by API, both ends get their BYE.
    expect(acme.post(url + "hangup"), 200)
    rcs = calls.finish(c, u)
    assert rcs == [0, 0], (rcs, c.describe_failure(), u.describe_failure())
    procs.wait_until(lambda: acme.get("/v1/calls").json["data"] == [], 5, 0.1)
    expect(acme.post(url + "dtmf", {"digits": "1"}), 404, "not_found")


if __name__ == "__main__":
    sys.exit(case.main(globals()))
