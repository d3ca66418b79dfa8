#!/usr/bin/env python3
"""amd-corpus — generates the answering-machine-detection corpus from a seed.

Speech comes from espeak-ng (several voices, speeds and pitches), band-limited and
resampled to 8 kHz by sox (with --tts flite or --tts festival, the English speech
comes from flite's or festival's voices instead: other synthesisers, with their own
prosody, to check that what the detector learnt from espeak-ng's voices holds for
others); amd-mix then places it on
a timeline with pauses, beeps, fax tones, SIT tones and seeded noise, applies G.711
round trips and writes the WAV clips. Everything random is drawn from one
random.Random(seed), so a seed always yields the same corpus; the thresholds of the
detector are tuned on one seed and the tests assert on another.

Output (DIR = --out):
  DIR/clips/*.wav       8 kHz 16-bit mono clips
  DIR/manifest.tsv      one clip per line: name, path, expected class (HUMAN or
                        MACHINE), category, expected reason (FAX, SIT or -), beep end
                        in ms (-1 when none), speech onset in ms, conditions
  DIR/recipe.txt        the amd-mix recipe
Rendered phrases are cached in --cache (shared by all seeds), and a finished corpus
is reused as long as this script, amd-mix and the seed are unchanged.

Usage: amd-corpus.py --seed N --out DIR --cache DIR --mix PATH/amd-mix
                     [--tts flite|festival]
(--tts festival needs Debian's festival, festvox-kallpc16k, festvox-kdlpc16k and
festvox-us-slt-hts; it is a bench option, not a test dependency.)
"""
import argparse
import concurrent.futures
import fcntl
import hashlib
import os
import random
import shutil
import subprocess
import sys
import wave

RATE = 8000

VOICES = ["en-us", "en", "en-gb-scotland", "en-gb-x-rp", "en-029", "en-us-nyc",
          "en-gb-x-gbclan", "en-gb-x-gbcwmd"]
VARIANTS = ["m1", "m2", "m3", "m4", "m5", "m6", "m7", "f1", "f2", "f3", "f4", "f5",
            "klatt", "klatt2", "klatt3", "Alex", "Annie", "Andy", "steph", "linda",
            "david", "robert", "john", "belinda"]
# flite's English voices (--tts flite): a diphone voice and four statistical ones.
FLITE_VOICES = ["kal", "kal16", "awb", "rms", "slt"]
# festival's English voices in Debian main (--tts festival): two diphone voices and
# a statistical (HTS) one.
FESTIVAL_VOICES = ["kal_diphone", "ked_diphone", "cmu_us_slt_arctic_hts"]
NAMES = ["Sam", "Maria", "John", "Priya", "Carlos", "Anna", "Mike", "Linda", "Omar",
         "Grace", "Peter", "Julia", "Tom", "Karen", "David", "Emma", "Dana", "Raj"]
COMPANIES = ["Acme Plumbing", "Northside Dental", "Baker and Sons", "Blue Sky Travel",
             "City Motors", "Green Valley Clinic", "Oak Dental", "Riverside Insurance"]

# What people say when they pick up: short answers, and harder, longer ones.
HUMAN_SHORT = ["Hello?", "Hello.", "Hi.", "Yes?", "Yeah?", "Hello?", "Hey.",
               "Speaking.", "Yes, hello?", "Hi there.", "Hello, yes?", "Good morning.",
               "Hallo?", "Yep?", "Hello, who's this?", "Who is this?"]
HUMAN_LONG = ["Hello, this is {name}.", "Hi, {name} speaking.", "Yeah, hello, who's this?",
              "Hello, who's calling please?", "{name} speaking, hello?",
              "Good evening, hello?", "Hello, can I help you?", "Hi, this is {name}.",
              "Hello, {name} here.", "Yes, this is {name}."]
HUMAN_SECOND = ["Who's this?", "Hello?", "Yes?", "Can you hear me?", "Anyone there?"]
# People who answer with a whole sentence: names, businesses, "I'm driving", "wrong
# number". Most end their turn with a question and wait; some with a statement.
HUMAN_SENTENCE = [
    "Hi, {name} speaking, who is this?",
    "Good morning, {company}, {name} here, how can I help?",
    "Hello, {company}, this is {name}, how may I help you?",
    "Hello? Yeah, I'm driving right now, can I call you back?",
    "Hi, I'm driving at the moment, who's calling please?",
    "Hello, I think you have the wrong number.",
    "Sorry, wrong number, there's no {name} here.",
    "Yes, hello, this is {name}, who am I speaking with?",
    "Good afternoon, thank you for calling {company}, how can I help you today?",
    "Hi, yeah, this is {name}, I'm a bit busy right now, what's it about?",
    "Hello? Hello, can you hear me? I can't hear anything.",
    "Hello, this is {name}. Who's calling?",
    "Yeah, hello? I'm in the car, you're on speaker.",
    "Hello, is this about my appointment?",
    "Hi, {name} here, I'm just going into a meeting, what can I do for you?",
    "{company}, good morning, {name} speaking.",
    "Hello, yes, this is the {name} residence, who's calling?",
    "Hi, you've got {name}, what's up?",
]
# Short turns that end with a question: the speaker stops and waits for the caller.
HUMAN_QUESTION = ["Hello? Who is it?", "Yes, who's calling?", "Hello, can I help you?",
                  "Hi, who is this?", "Hello? Anyone there?", "Yes? What is it?",
                  "Who's speaking?", "Hello, who am I talking to?", "Hello? Who's there?",
                  "Hi, who's this please?"]

# Answering-machine greetings are built from sentences with natural pauses.
MACHINE_OPEN = ["Hi, you've reached {name}.", "Hello, this is {name}.",
                "You have reached the voicemail of {name}.",
                "Thank you for calling {company}.", "Hi, it's {name}.",
                "The person you are trying to reach is not available.",
                "Hey, this is {name}'s phone.", "Hello, you've reached {company}."]
MACHINE_MID = ["I can't come to the phone right now.",
               "We are unable to take your call at the moment.",
               "Our office is currently closed.",
               "I'm either on the other line or away from my desk.",
               "Sorry I missed your call.", "Nobody is available to answer your call."]
MACHINE_CLOSE = ["Please leave a message after the tone.",
                 "Leave your name and number and I'll call you back.",
                 "At the tone, please record your message.",
                 "When you have finished recording, you may hang up.",
                 "Leave a message and I'll get back to you as soon as I can.",
                 "Thanks, bye."]
# Short greetings: who it is, then what to do (or one sentence saying both).
MACHINE_SHORT_WHO = ["Hi, it's {name}.", "This is {name}.", "You've reached {name}.",
                     "Hey, it's {name}.", "{company}."]
MACHINE_SHORT_WHAT = ["Leave a message.", "Please leave a message.",
                      "Leave me a message.", "I'll call you back.",
                      "Leave your number after the tone."]
MACHINE_SHORT = ["Hi, it's {name}, please leave a message after the tone.",
                 "You have reached {name}, please leave a message.",
                 "You've reached {company}, please leave a message."]
# Greetings of short phrases with long pauses between them (0.8-2 s), and the
# "hello?" joke: a pause as if waiting for the caller, then the recording owns up.
MACHINE_PAUSED = [["Hi, it's {name}.", "Please leave a message."],
                  ["Hello?", "Ha, got you, this is a recording. Leave a message."],
                  ["Hello?", "Just kidding, I'm not here. Leave a message."],
                  ["Hello, this is {name}.", "I'm not here right now.", "Leave a message."],
                  ["You've reached {company}.", "Our office is closed.",
                   "Please call back tomorrow."],
                  ["Hey.", "It's {name}.", "Leave a message."],
                  ["Hi.", "You know what to do."],
                  ["{name} here.", "Can't talk now.", "Leave your number."]]
# One short phrase asking for a message.
MACHINE_ONE = ["Leave a message.", "Please leave a message.", "Leave a message after the tone.",
               "{name}, leave a message.", "Not available, leave a message.",
               "Hi, leave a message.", "Speak after the beep.", "It's {name}, leave a message.",
               "Leave your message now."]
ANNOUNCEMENTS = ["The number you have dialed is not in service. Please check the number "
                 "and dial again.",
                 "Your call cannot be completed as dialed.",
                 "All circuits are busy now. Please try your call again later.",
                 "The number you have reached has been disconnected."]

# Other languages: what people say and what greetings say, by espeak-ng voice.
# Keys: short (answers), sentence (full-sentence answers), open/mid/close (greeting
# sentences), one (one-phrase greetings).
LANGS = {
    "es": {"voices": ["es", "es-419"], "names": ["Carlos", "Lucía", "Javier", "Sofía"],
           "companies": ["Clínica San José", "Transportes García"],
           "short": ["¿Bueno?", "¿Diga?", "¿Sí?", "¿Aló?", "Hola, ¿quién habla?"],
           "sentence": ["Hola, buenas tardes, habla {name}, ¿en qué le puedo ayudar?",
                        "¿Aló? Estoy manejando, ¿quién es?",
                        "{company}, buenos días, le atiende {name}.",
                        "Perdone, creo que se ha equivocado de número."],
           "open": ["Hola, has llamado a {name}.", "Gracias por llamar a {company}."],
           "mid": ["En este momento no puedo atenderte.", "Nuestra oficina está cerrada."],
           "close": ["Por favor, deja tu mensaje después del tono.",
                     "Deja tu nombre y tu número y te devuelvo la llamada."],
           "one": ["Deja tu mensaje.", "Deje su mensaje después del tono."]},
    "fr": {"voices": ["fr-fr", "fr-be"], "names": ["Pierre", "Camille", "Julien", "Chloé"],
           "companies": ["Cabinet Martin", "Garage Dupont"],
           "short": ["Allô ?", "Oui, allô ?", "Allô, oui ?", "Oui ?", "Allô, qui est-ce ?"],
           "sentence": ["Allô, oui, c'est {name}, qui est à l'appareil ?",
                        "Bonjour, {company}, {name} à l'appareil, je vous écoute.",
                        "Allô ? Je suis en voiture, je peux vous rappeler ?",
                        "Désolé, vous vous êtes trompé de numéro."],
           "open": ["Bonjour, vous êtes bien sur le répondeur de {name}.",
                    "Vous êtes bien chez {company}."],
           "mid": ["Je ne suis pas disponible pour le moment.",
                   "Nos bureaux sont actuellement fermés."],
           "close": ["Laissez-moi un message après le bip.",
                     "Merci de laisser vos coordonnées, je vous rappellerai."],
           "one": ["Laissez un message.", "Laissez-moi un message après le bip."]},
    "de": {"voices": ["de"], "names": ["Thomas", "Anna", "Stefan", "Julia"],
           "companies": ["Praxis Doktor Weber", "Autohaus Müller"],
           "short": ["Hallo?", "Ja, bitte?", "Ja?", "Hallo, wer ist da?", "Ja, hallo?"],
           "sentence": ["{name}, guten Tag, wer ist da bitte?",
                        "Hallo, hier ist {name}, ich bin gerade im Auto, worum geht es?",
                        "{company}, guten Morgen, Sie sprechen mit {name}.",
                        "Da haben Sie sich wohl verwählt."],
           "open": ["Hallo, hier ist der Anrufbeantworter von {name}.",
                    "Willkommen bei {company}."],
           "mid": ["Ich bin leider gerade nicht erreichbar.",
                   "Unser Büro ist zurzeit nicht besetzt."],
           "close": ["Bitte hinterlassen Sie eine Nachricht nach dem Signalton.",
                     "Sprechen Sie nach dem Ton, ich rufe zurück."],
           "one": ["Bitte sprechen Sie nach dem Ton.", "Hinterlassen Sie eine Nachricht."]},
    "pt": {"voices": ["pt-br", "pt"], "names": ["João", "Ana", "Pedro", "Mariana"],
           "companies": ["Clínica Santa Luzia", "Oficina Silva"],
           "short": ["Alô?", "Alô, quem fala?", "Oi?", "Pois não?", "Sim?"],
           "sentence": ["Oi, aqui é {name}, quem está falando?",
                        "Bom dia, {company}, {name} falando, em que posso ajudar?",
                        "Alô? Estou dirigindo agora, posso ligar depois?",
                        "Acho que o senhor ligou para o número errado."],
           "open": ["Olá, você ligou para {name}.", "Obrigado por ligar para {company}."],
           "mid": ["No momento não posso atender.", "Nosso escritório está fechado."],
           "close": ["Deixe sua mensagem após o sinal.",
                     "Deixe seu nome e telefone que eu retorno."],
           "one": ["Deixe seu recado.", "Deixe sua mensagem após o sinal."]},
    "hi": {"voices": ["hi"], "names": ["राहुल", "प्रिया", "अमित", "सुनीता"],
           "companies": ["शर्मा क्लिनिक", "गुप्ता ट्रेडर्स"],
           "short": ["हेलो?", "हाँ, बोलिए?", "हेलो, कौन?", "जी, बोलिए?", "हाँ जी?"],
           "sentence": ["नमस्ते, मैं {name} बोल रहा हूँ, आप कौन?",
                        "हेलो, मैं अभी गाड़ी चला रहा हूँ, बाद में बात करें?",
                        "{company}, नमस्ते, बताइए मैं आपकी क्या मदद कर सकता हूँ?",
                        "माफ़ कीजिए, आपने गलत नंबर लगाया है।"],
           "open": ["नमस्ते, आपने {name} को कॉल किया है।", "{company} में कॉल करने के लिए धन्यवाद।"],
           "mid": ["मैं अभी फ़ोन नहीं उठा सकता।", "हमारा दफ़्तर अभी बंद है।"],
           "close": ["कृपया बीप के बाद अपना संदेश छोड़ें।",
                     "अपना नाम और नंबर छोड़ दीजिए, मैं वापस कॉल करूँगा।"],
           "one": ["कृपया संदेश छोड़ें।", "बीप के बाद संदेश छोड़िए।"]},
    "ar": {"voices": ["ar"], "names": ["أحمد", "فاطمة", "محمد", "ليلى"],
           "companies": ["عيادة النور", "شركة الأمل"],
           "short": ["ألو؟", "نعم؟", "ألو، مين؟", "أهلا؟", "نعم، تفضل؟"],
           "sentence": ["السلام عليكم، أنا {name}، مين حضرتك؟",
                        "ألو، أنا أسوق الآن، ممكن أتصل بك لاحقا؟",
                        "{company}، صباح الخير، كيف أقدر أساعدك؟",
                        "آسف، الرقم غلط."],
           "open": ["مرحبا، لقد وصلت إلى البريد الصوتي الخاص ب{name}.",
                    "شكرا لاتصالك ب{company}."],
           "mid": ["لا أستطيع الرد الآن.", "مكتبنا مغلق حاليا."],
           "close": ["الرجاء ترك رسالة بعد سماع الصافرة.", "اترك اسمك ورقمك وسأعاود الاتصال."],
           "one": ["اترك رسالتك بعد الصافرة.", "الرجاء ترك رسالة."]},
    "it": {"voices": ["it"], "names": ["Marco", "Giulia", "Luca", "Chiara"],
           "companies": ["Studio Rossi", "Officina Bianchi"],
           "short": ["Pronto?", "Pronto, chi parla?", "Sì?", "Pronto, sì?", "Chi è?"],
           "sentence": ["Pronto, sono {name}, sto guidando, chi è?",
                        "{company}, buongiorno, sono {name}, come posso aiutarla?",
                        "Pronto? Mi scusi, credo che abbia sbagliato numero.",
                        "Sì, pronto, parla {name}, chi parla?"],
           "open": ["Ciao, sei in contatto con la segreteria di {name}.",
                    "Grazie per aver chiamato {company}."],
           "mid": ["In questo momento non posso rispondere.", "I nostri uffici sono chiusi."],
           "close": ["Lascia un messaggio dopo il segnale acustico.",
                     "Lascia nome e numero, ti richiamerò."],
           "one": ["Lascia un messaggio.", "Lasciate un messaggio dopo il bip."]},
}
LANG_SHARE = 0.3   # share of the clips of a shape spoken in another language

# Shape -> clips per corpus. Shapes are language-independent: LANG_SHARE of the clips
# of the shapes that have texts in other languages are in one of LANGS.
PLAN = [("human_short", 60), ("human_long", 30), ("human_two", 10), ("human_repeat", 10),
        ("human_sentence", 45), ("human_question", 20),
        ("machine_long", 60), ("machine_short", 40), ("machine_paused", 30),
        ("machine_one", 24), ("machine_music", 16),
        ("fax_ced", 10), ("fax_cng", 6), ("sit", 14)]
# Shapes counted as full-sentence human answers (the issue's hardest human case).
FULL_SENTENCE = {"human_sentence"}


class Renderer:
    """Renders phrases with espeak-ng (or flite, festival) + sox into an 8 kHz cache,
    once each."""

    def __init__(self, cache):
        self.cache = cache
        self.jobs = {}
        os.makedirs(cache, exist_ok=True)

    def phrase(self, text, voice, speed, pitch):
        key = hashlib.sha1(f"{text}|{voice}|{speed}|{pitch}".encode()).hexdigest()[:16]
        path = os.path.join(self.cache, key + ".wav")
        self.jobs[path] = (text, voice, speed, pitch)
        return path

    @staticmethod
    def _festival_scheme(voice, speed, pitch, text, raw):
        """One phrase as festival Scheme. Speed 150-195 words a minute as a duration
        stretch around 175 (over the voice's own stretch, 1.1 for the diphone voices;
        the HTS voice takes it as its engine's speech rate), pitch 30-70 as a mean F0
        of 85-165 Hz for the diphone voices (their intonation model's target) and as
        -2..+2 semitones around the speaker's own for the HTS voice."""
        text = text.replace("\\", "\\\\").replace('"', '\\"')
        if voice.endswith("_hts"):
            setup = (f"(set! hts_engine_params (append {voice}::hts_engine_params"
                     f" (list (list \"-r\" {speed / 175.0:.3f})"
                     f" (list \"-fm\" {(pitch - 50) / 10.0:.1f}))))")
        else:
            setup = (f"(Parameter.set 'Duration_Stretch {1.1 * 175.0 / speed:.3f})"
                     f" (set! int_lr_params '((target_f0_mean {45 + 2 * pitch})"
                     f" (target_f0_std {10 + pitch // 5}) (model_f0_mean 170)"
                     f" (model_f0_std 34)))")
        return (f"(voice_{voice}) {setup}\n(utt.save.wave (utt.synth (Utterance Text"
                f" \"{text}\")) \"{raw}\" 'riff)\n")

    @staticmethod
    def _band(raw, tmp, path):
        # Telephone band, 8 kHz, leading and trailing silence trimmed.
        subprocess.run(["sox", "-q", raw, "-r", str(RATE), "-c", "1", "-b", "16", tmp,
                        "highpass", "250", "lowpass", "3400",
                        "silence", "1", "0.01", "-50d", "reverse",
                        "silence", "1", "0.01", "-50d", "reverse"],
                       check=True, capture_output=True)
        os.replace(tmp, path)
        os.unlink(raw)

    @classmethod
    def _render_festival(cls, jobs):
        # One festival process renders a batch (its start-up costs more than a
        # phrase), then sox bands each phrase as for the other synthesisers.
        names = [(f"{p}.{os.getpid()}.tmp.wav", f"{p}.{os.getpid()}.raw.wav")
                 for p, *_ in jobs]
        script = "".join(cls._festival_scheme(v[9:], sp, pi, t, raw)
                         for (p, t, v, sp, pi), (tmp, raw) in zip(jobs, names))
        done = subprocess.run(["festival", "--pipe"], input=script.encode(),
                              capture_output=True)
        for (p, t, v, *_), (tmp, raw) in zip(jobs, names):
            if not os.path.exists(raw):
                err = done.stderr.decode(errors="replace").strip().splitlines()
                raise RuntimeError(f"festival did not render {t!r} with {v[9:]} "
                                   f"(exit {done.returncode}): {err[-1] if err else '-'}")
            cls._band(raw, tmp, p)

    @classmethod
    def _render(cls, path, text, voice, speed, pitch):
        # Private names until the rename: two corpora built at once (the suite's
        # fixtures) may render the same phrase into the shared cache.
        tmp = f"{path}.{os.getpid()}.tmp.wav"
        raw = f"{path}.{os.getpid()}.raw.wav"
        if voice.startswith("flite:"):
            # speed 150-195 words a minute as a duration stretch around 175; pitch
            # 30-70 as a mean F0 of 85-165 Hz (the diphone voice follows it, the
            # statistical voices keep their speaker's own).
            subprocess.run(["flite", "-voice", voice[6:],
                            "--setf", f"duration_stretch={175.0 / speed:.3f}",
                            "--setf", f"int_f0_target_mean={45 + 2 * pitch}",
                            "-t", text, "-o", raw], check=True, capture_output=True)
        else:
            subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch),
                            "-w", raw, text], check=True, capture_output=True)
        cls._band(raw, tmp, path)

    def run(self):
        todo = [(p, *a) for p, a in self.jobs.items() if not os.path.exists(p)]
        fest = [t for t in todo if t[2].startswith("festival:")]
        rest = [t for t in todo if not t[2].startswith("festival:")]
        with concurrent.futures.ThreadPoolExecutor(max_workers=2) as ex:
            futs = [ex.submit(self._render_festival, fest[i:i + 40])
                    for i in range(0, len(fest), 40)]
            futs += [ex.submit(self._render, *t) for t in rest]
            for f in futs:
                f.result()
        return len(todo)


def duration_ms(path):
    with wave.open(path, "rb") as w:
        return 1000.0 * w.getnframes() / w.getframerate()


class Builder:
    def __init__(self, seed, out, renderer, tts="espeak"):
        self.tts = tts
        self.r = random.Random(seed)
        self.out = out
        self.ren = renderer
        self.clips = []

    def lang(self):
        r = self.r
        return r.choice(sorted(LANGS)) if r.random() < LANG_SHARE else "en"

    def voice(self, lang="en"):
        r = self.r
        base = r.choice(VOICES) if lang == "en" else r.choice(LANGS[lang]["voices"])
        variant = r.choice(VARIANTS)
        speed, pitch = r.randint(150, 195), r.randint(30, 70)
        if lang == "en" and self.tts == "flite":
            # Drawn from what the espeak-ng voice's draws were, so the same seed
            # keeps every other choice (texts, pauses, levels) of the espeak corpus.
            flite = FLITE_VOICES[(VOICES.index(base) * len(VARIANTS)
                                  + VARIANTS.index(variant)) % len(FLITE_VOICES)]
            return (f"flite:{flite}", speed, pitch)
        if lang == "en" and self.tts == "festival":
            # The same mapping, onto festival's three English voices.
            fest = FESTIVAL_VOICES[(VOICES.index(base) * len(VARIANTS)
                                    + VARIANTS.index(variant)) % len(FESTIVAL_VOICES)]
            return (f"festival:{fest}", speed, pitch)
        return (f"{base}+{variant}", speed, pitch)

    def fill(self, text, lang="en"):
        names = NAMES if lang == "en" else LANGS[lang]["names"]
        comps = COMPANIES if lang == "en" else LANGS[lang]["companies"]
        return text.format(name=self.r.choice(names), company=self.r.choice(comps))

    def texts(self, lang, key):
        """The phrase pool of one kind in one language (English names the kinds)."""
        if lang != "en":
            return LANGS[lang][key]
        return {"short": HUMAN_SHORT, "sentence": HUMAN_SENTENCE, "open": MACHINE_OPEN,
                "mid": MACHINE_MID, "close": MACHINE_CLOSE, "one": MACHINE_ONE,
                "question": HUMAN_QUESTION, "long": HUMAN_LONG}[key]

    def conditions(self, tonal=False):
        """Level, noise and codec of one clip."""
        r = self.r
        level = r.uniform(-38.0, -12.0) if not tonal else r.uniform(-28.0, -10.0)
        kind = r.choices(["none", "white", "pink", "brown", "babble"],
                         [30, 20, 20, 15, 15])[0]
        snr = None
        if kind != "none":
            snr = r.choice([30, 20, 15, 10] if kind != "babble" else [30, 20, 15])
        codec = r.choices(["pcm", "ulaw", "alaw"], [40, 30, 30])[0]
        return {"level": level, "noise": kind, "snr": snr, "codec": codec}

    def add(self, cat, expect, reason, length_ms, parts, cond, beep_end=-1, onset=-1,
            lang="-"):
        name = f"{cat}_{len(self.clips):03d}"
        self.clips.append({"name": name, "cat": cat, "expect": expect, "reason": reason,
                           "len": length_ms, "parts": parts, "cond": cond,
                           "beep_end": beep_end, "onset": onset, "lang": lang,
                           "text": " | ".join(self.ren.jobs[q[1]][0] for q in parts
                                              if q[0] == "say"),
                           "rng": self.r.getrandbits(48)})

    # -- categories --------------------------------------------------------------------
    def human(self, cat):
        r = self.r
        lang = self.lang() if cat in ("human_short", "human_sentence") else "en"
        v = self.voice(lang)
        lead = r.uniform(200, 1000)
        length = 6500
        if cat == "human_short":
            texts, pauses = [r.choice(self.texts(lang, "short"))], []
        elif cat == "human_long":
            texts, pauses = [self.fill(r.choice(HUMAN_LONG))], []
        elif cat == "human_sentence":
            texts, pauses = [self.fill(r.choice(self.texts(lang, "sentence")), lang)], []
            length = 9000
        elif cat == "human_question":
            texts, pauses = [r.choice(HUMAN_QUESTION)], []
        elif cat == "human_two":
            texts = [r.choice(["Hello?", "Hi.", "Yes?", "Hello."]), r.choice(HUMAN_SECOND)]
            pauses = [r.uniform(250, 550)]
        else:  # human_repeat: says hello, waits for an answer, says it again
            texts = ["Hello?", r.choice(HUMAN_SECOND)]
            pauses = [r.uniform(1200, 2500)]
        parts = self.seq(texts, lead, pauses, v)
        if cat == "human_sentence" and r.random() < 0.3:
            # No answer comes: after a while the person asks again.
            parts.append(("_pause", r.uniform(2500, 3500)))
            parts.append(("say", self.ren.phrase(r.choice(self.texts(lang, "short")), *v)))
        self.add(cat, "HUMAN", "-", length, parts, self.conditions(), onset=lead, lang=lang)

    def machine(self, cat):
        r = self.r
        lang = self.lang() if cat in ("machine_long", "machine_short", "machine_one") else "en"
        v = self.voice(lang)
        lead = r.uniform(100, 800)
        pause = (200, 700)
        intro = None
        if cat == "machine_long" or (cat == "machine_music" and r.random() < 0.6):
            texts = [self.fill(r.choice(self.texts(lang, "open")), lang)]
            if r.random() < 0.7:
                texts.append(r.choice(self.texts(lang, "mid")))
            texts.append(r.choice(self.texts(lang, "close")))
        elif cat == "machine_paused":
            texts = [self.fill(t) for t in r.choice(MACHINE_PAUSED)]
            pause = (800, 2000)
        elif cat == "machine_one" or cat == "machine_music":
            texts = [self.fill(r.choice(self.texts(lang, "one")), lang)]
        elif lang != "en":
            texts = [self.fill(r.choice(self.texts(lang, "open")), lang),
                     r.choice(self.texts(lang, "one"))]
        elif r.random() < 0.7:
            texts = [self.fill(r.choice(MACHINE_SHORT_WHO)), r.choice(MACHINE_SHORT_WHAT)]
        else:
            texts = [self.fill(r.choice(MACHINE_SHORT))]
        if cat == "machine_music":
            # A jingle or hold music first; sometimes it goes on under the voice.
            mdur = r.uniform(1000, 4000)
            under = r.random() < 0.4
            intro = (lead, mdur, under)
            lead += mdur + r.uniform(0, 300)
        pauses = [r.uniform(*pause) for _ in texts[1:]]
        parts = self.seq(texts, lead, pauses, v)
        beep_p = {"machine_long": 0.65, "machine_short": 0.6, "machine_paused": 0.5,
                  "machine_one": 0.5, "machine_music": 0.6}[cat]
        beep = r.random() < beep_p
        cond = self.conditions()
        if intro:
            parts.insert(0, ("music", intro[0], intro[1], cond["level"] + r.uniform(-8, 0),
                             intro[2]))
        if beep:
            parts.append(("_pause", r.uniform(150, 1000)))
            freq = round(r.uniform(400, 2100))
            dur = round(10 ** r.uniform(1.903, 3.301))   # 80 ms .. 2 s, log-uniform
            parts.append(("beep", freq, dur, cond["level"] + r.uniform(-6, 6)))
        parts.append(("_pause", 4000))   # the recording goes on, silent
        self.add(cat, "MACHINE", "-", None, parts, cond, beep_end=0 if beep else -1,
                 onset=lead, lang=lang)

    def seq(self, texts, lead, pauses, voice):
        parts = [("_at", lead)]
        for i, text in enumerate(texts):
            parts.append(("say", self.ren.phrase(text, *voice)))
            if i < len(pauses):
                parts.append(("_pause", pauses[i]))
        return parts

    def fax(self, cat):
        r = self.r
        cond = self.conditions(tonal=True)
        if cat == "fax_ced":
            lead = r.uniform(200, 1800)
            dur = r.uniform(2600, 4000)
            rev = 450 if r.random() < 0.5 else 0
            f = 2100 * (1 + r.uniform(-0.004, 0.004))
            parts = [("tone", f, lead, dur, cond["level"], rev)]
            length = lead + dur + 500
        else:
            lead = r.uniform(200, 1500)
            f = 1100 * (1 + r.uniform(-0.01, 0.01))
            parts = [("tone", f, lead + k * 3500, 500, cond["level"], 0) for k in range(2)]
            length = 7000
        self.add(cat, "MACHINE", "FAX", length, parts, cond)

    def sit(self, cat):
        r = self.r
        cond = self.conditions(tonal=True)
        t = r.uniform(100, 600)
        parts = []
        for f, d in ((r.choice([913.8, 985.2]), r.choice([274, 380])),
                     (r.choice([1370.6, 1428.5]), r.choice([274, 380])), (1776.7, 380)):
            parts.append(("tone", f * (1 + r.uniform(-0.005, 0.005)), t, d,
                          cond["level"], 0))
            t += d
        v = self.voice()
        parts.append(("_at", t + r.uniform(50, 300)))
        parts.append(("say", self.ren.phrase(r.choice(ANNOUNCEMENTS), *v)))
        parts.append(("_pause", 500))
        self.add(cat, "MACHINE", "SIT", None, parts, cond, lang="en")

    def build(self):
        for cat, n in PLAN:
            for _ in range(n):
                if cat.startswith("human"):
                    self.human(cat)
                elif cat.startswith("machine"):
                    self.machine(cat)
                elif cat.startswith("fax"):
                    self.fax(cat)
                else:
                    self.sit(cat)


def resolve(clip, babble_pool, r):
    """Turns a clip's relative parts into amd-mix directives (needs rendered audio)."""
    cond = clip["cond"]
    lines, t, speech_end = [], 0.0, None
    beep_end = clip["beep_end"]
    for p in clip["parts"]:
        if p[0] == "_at":
            t = p[1]
        elif p[0] == "_pause":
            t += p[1]
        elif p[0] == "say":
            lines.append(f"speech {p[1]} {t:.1f} {cond['level']:.2f}")
            t += duration_ms(p[1])
            speech_end = t
        elif p[0] == "beep":
            lines.append(f"tone {p[1]} {t:.1f} {p[2]} {p[3]:.2f}")
            t += p[2]
            beep_end = t
        elif p[0] == "tone":
            lines.append(f"tone {p[1]:.2f} {p[2]:.1f} {p[3]:.1f} {p[4]:.2f} {p[5]}")
            t = max(t, p[2] + p[3])
        elif p[0] == "music":
            # Music from p[1] for p[2] ms (and on under the voice when p[4]).
            dur = p[2] if not p[4] else None
            lines.append(("music", p[1], dur, p[3]))
    length = clip["len"] if clip["len"] else t
    for i, ln in enumerate(lines):
        if isinstance(ln, tuple):   # music under the voice runs to the greeting's end
            _, at, dur, lvl = ln
            if dur is None:
                dur = (speech_end or at) - at
                lvl -= 12
            lines[i] = f"music {at:.1f} {dur:.1f} {lvl:.2f}"
    if cond["noise"] != "none":
        nl = cond["level"] - cond["snr"]
        if cond["noise"] == "babble":
            files = " ".join(r.sample(babble_pool, 10))
            lines.append(f"babble {nl:.2f} {files}")
        else:
            lines.append(f"noise {cond['noise']} {nl:.2f}")
    return length, lines, beep_end, speech_end


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--cache", required=True)
    ap.add_argument("--mix", required=True)
    ap.add_argument("--tts", choices=["espeak", "flite", "festival"], default="espeak",
                    help="the English voices' synthesiser (other languages: espeak-ng)")
    a = ap.parse_args()
    if a.tts != "espeak" and not shutil.which(a.tts):
        sys.exit(f"amd-corpus: --tts {a.tts} needs {a.tts} installed" +
                 (" and its English voices (festvox-kallpc16k, festvox-kdlpc16k,"
                  " festvox-us-slt-hts)" if a.tts == "festival" else ""))
    if a.tts == "festival":
        have = subprocess.run(["festival", "--pipe"], input=b"(print (voice.list))",
                              capture_output=True).stdout.decode().split("(")[-1]
        missing = [v for v in FESTIVAL_VOICES if v not in have.replace(")", " ").split()]
        if missing:
            sys.exit(f"amd-corpus: festival lacks the voices {', '.join(missing)}"
                     " (festvox-kallpc16k, festvox-kdlpc16k, festvox-us-slt-hts)")
    a.out, a.cache, a.mix = (os.path.abspath(p) for p in (a.out, a.cache, a.mix))

    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        h = hashlib.sha1()
        with open(__file__, "rb") as f:
            h.update(f.read())
        with open(a.mix, "rb") as f:
            h.update(f.read())
        h.update(str(a.seed).encode())
        h.update(a.tts.encode())
        stamp = h.hexdigest()
        stamp_path = os.path.join(a.out, "stamp")
        manifest = os.path.join(a.out, "manifest.tsv")
        if os.path.exists(stamp_path) and os.path.exists(manifest):
            with open(stamp_path) as f:
                if f.read().strip() == stamp:
                    print(f"amd-corpus: seed {a.seed} up to date in {a.out}")
                    return 0

        ren = Renderer(a.cache)
        b = Builder(a.seed, a.out, ren, a.tts)
        b.build()
        # Babble (a crowd in the background): ten talkers per clip, from a pool.
        br = random.Random(a.seed * 7919 + 1)
        pool_texts = MACHINE_MID + MACHINE_CLOSE + ANNOUNCEMENTS
        babble_pool = [ren.phrase(" ".join(br.sample(pool_texts, 3)),
                                  f"{br.choice(VOICES)}+{br.choice(VARIANTS)}",
                                  br.randint(150, 190), br.randint(30, 70))
                       for _ in range(20)]
        rendered = ren.run()

        clips_dir = os.path.join(a.out, "clips")
        os.makedirs(clips_dir, exist_ok=True)
        recipe = [f"# AMD corpus, seed {a.seed}"]
        rows = []
        for c in b.clips:
            rr = random.Random(c["rng"])
            length, lines, beep_end, speech_end = resolve(c, babble_pool, rr)
            path = os.path.join(clips_dir, c["name"] + ".wav")
            recipe.append(f"clip {path} {length:.1f} {c['rng']} {c['cond']['codec']}")
            recipe.extend(lines)
            recipe.append("end")
            cond = c["cond"]
            note = (f"level={cond['level']:.1f} noise={cond['noise']}"
                    f" snr={cond['snr'] if cond['snr'] is not None else '-'}"
                    f" codec={cond['codec']}")
            rows.append("\t".join([c["name"], path, c["expect"], c["cat"], c["reason"],
                                   str(round(beep_end)) if beep_end >= 0 else "-1",
                                   str(round(c["onset"])),
                                   str(round(speech_end)) if speech_end else "-1", note,
                                   c["lang"],
                                   "full" if c["cat"] in FULL_SENTENCE else "-",
                                   c["text"].replace("\t", " ") or "-"]))
        recipe_path = os.path.join(a.out, "recipe.txt")
        with open(recipe_path, "w") as f:
            f.write("\n".join(recipe) + "\n")
        subprocess.run([a.mix, recipe_path], check=True, stdout=subprocess.DEVNULL)
        with open(manifest + ".tmp", "w") as f:
            f.write("#name\tpath\texpect\tcategory\treason\tbeep_end_ms\tonset_ms"
                    "\tspeech_end_ms\tconditions\tlang\ttags\ttext\n")
            f.write("\n".join(rows) + "\n")
        os.replace(manifest + ".tmp", manifest)
        with open(stamp_path, "w") as f:
            f.write(stamp + "\n")
        print(f"amd-corpus: seed {a.seed}: {len(rows)} clips, {rendered} phrases rendered,"
              f" in {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
