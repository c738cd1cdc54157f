"""Message triage: how soon the owner must deal with a message, what it is, its tone, and why.

Four learned heads (brain/classifier.py: priority, intent, emotional tone, needs-action) read the
sentence embedding, character n-grams and the multilingual cues below. A few rules then override the
learned priority where the wording decides it better than any example could (the definitions in
brain/data/README.md): promotions and automated mail from strangers are `low` whatever they shout,
"no rush" caps a request at `routine`, sarcasm about being kept waiting is `urgent`, and so are
emergencies and a deadline within hours (today/tonight/heute/hoy/hoje/aujourd'hui with a time).

Suggested response time (a function of priority and the contact-adjusted urgency):
    urgent          → "immediate" (adjusted urgency ≥ 0.85) else "within 1 hour"
    time-sensitive  → "today" (adjusted urgency ≥ 0.6) else "within 24 hours"
    routine         → "within 24 hours"
    low             → "when convenient"
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from brain.classifier import (ClassifierSet, Example, Prediction, TaskSpec, cue_rx, default_embedder, default_models,
                              fold, read_jsonl)

PRIORITIES = ("urgent", "time-sensitive", "routine", "low")
CONTACTS = ("friend", "family", "work", "acquaintance", "unknown")
URGENCY_BANDS = {"urgent": (0.8, 1.0), "time-sensitive": (0.5, 0.8), "routine": (0.2, 0.5), "low": (0.0, 0.2)}
CONTACT_ADJUST = {"family": 0.08, "friend": 0.05, "work": 0.05, "acquaintance": 0.0, "unknown": -0.08}
_CLOCK = r"(?:\d{1,2}(?::\d{2})?\s?(?:am|pm|h\d{0,2}|uhr)|\d{1,2}:\d{2}|noon|midnight|mediodia|meio-dia|mittag|midi)"
_WEEKDAYS = {
    0: "monday|lunes|segunda|montag|lundi", 1: "tuesday|martes|terca|dienstag|mardi",
    2: "wednesday|miercoles|quarta|mittwoch|mercredi", 3: "thursday|jueves|quinta|donnerstag|jeudi",
    4: "friday|viernes|sexta|freitag|vendredi", 5: "saturday|sabado|samstag|samedi",
    6: "sunday|domingo|sonntag|dimanche",
}

CUES: dict[str, re.Pattern[str]] = {
    "emergency": cue_rx(r"emergency", r"accident", r"hospital", r"ambulance", r"a&e", r"911", r"police", r"bleeding",
        r"fell", r"collapsed", r"unconscious", r"urgencias", r"accidente", r"ambulancia", r"se ha caido",
        r"emergencia", r"acidente", r"pronto[- ]socorro", r"ambulancia", r"emergencia", r"caiu", r"unfall",
        r"krankenhaus", r"notaufnahme", r"notarzt", r"notfall", r"gesturzt", r"polizei", r"urgences", r"hopital",
        r"pompiers", r"tombee?(?! sur)", r"samu", r"clinic", r"klinik", r"clinica", r"burst", r"flood\w*", r"leak\w*",
        r"hacked", r"fake (?:account|profile)", r"clon\w+", r"hackead[oa]", r"gehackt", r"pirate", r"inondation",
        r"fuga de agua", r"vazamento", r"wasserschaden", r"fuite d'eau"),
    "distress": cue_rx(r"i'?m not ok(?:ay)?", r"not okay", r"help me", r"please help", r"panic\w*", r"scared",
        r"crying", r"ayuda", r"no estoy bien", r"socorro", r"nao estou bem", r"me ajuda", r"hilfe",
        r"mir geht'?s (?:gar )?nicht gut", r"au secours", r"ca va pas", r"aide-moi", r"j'ai peur"),
    "now": cue_rx(r"asap", r"right now", r"now", r"immediately", r"urgent(?:ly)?", r"call me", r"where are you",
        r"ya mismo", r"llamame ya", r"ahora(?: mismo)?", r"urgente", r"cuanto antes", r"enseguida", r"llamame",
        r"agora", r"o quanto antes", r"me liga", r"jetzt", r"sofort", r"dringend", r"umgehend", r"ruf mich an",
        r"wo bist du", r"maintenant", r"tout de suite", r"urgent", r"immediatement", r"appelle-moi", r"au plus vite",
        r"ou es-tu", r"quick(?:ly)?", r"hurry", r"right away", r"straight away", r"as soon as possible",
        r"lo antes posible", r"inmediatamente", r"date prisa", r"rapido", r"urgentemente", r"imediatamente", r"corre",
        r"so schnell wie moglich", r"eilig", r"schnell", r"vite", r"rapidement", r"des que possible", r"en urgence"),
    "today": cue_rx(r"today", r"tonight", r"this (?:morning|afternoon|evening)", r"end of (?:the )?day", r"eod",
        r"hoy", r"esta (?:noche|tarde|manana)", r"hoje", r"hoje a noite", r"esta noite",
        r"heute(?: abend| nachmittag)?", r"heute morgen", r"aujourd'hui", r"ce soir", r"ce matin", r"cet apres-midi",
        r"tonite", r"2nite", r"ainda hoje", r"hoje (?:cedo|de manha|a tarde)", r"heute (?:fruh|nachmittag)",
        r"noch heute", r"dans la journee", r"d'ici ce soir", r"ce midi", r"aujourd'hui meme"),
    "within_hours": cue_rx(r"in (?:an?|one|two|three|\d+) (?:hours?|hrs?|mins?|minutes)", r"within the hour",
        r"in \d+ ?(?:mins?)?(?=\W*$)", r"dentro de (?:una|uma) hora", r"en (?:una|dos|tres|\d+) (?:horas?|minutos)",
        r"em (?:uma|duas|tres|\d+) (?:horas?|minutos)", r"daqui a (?:uma|duas|\d+) (?:horas?|minutos)",
        r"in (?:einer|zwei|drei|\d+) (?:stunden?|minuten)", r"innerhalb (?:einer|der nachsten) stunde",
        r"dans (?:une|deux|trois|\d+) (?:heures?|minutes)", r"dans l'heure"),
    "clock": cue_rx(
        r"(?:by|before|until|at) " + _CLOCK, r"(?:antes de las|a las|hasta las) \d{1,2}(?::\d{2})?",
        r"(?:as|ate as|antes das) \d{1,2}h?", r"(?:bis|um|vor) \d{1,2}(?:[:.]\d{2})?(?: uhr)?",
        r"(?:avant|a|jusqu'a) \d{1,2}h\d{0,2}", _CLOCK),
    "tomorrow": cue_rx(r"tomorrow", r"tmrw?", r"manana(?! por)", r"amanha", r"morgen(?! fruh)", r"demain",
        r"pasado manana", r"depois de amanha", r"ubermorgen", r"apres-demain", r"first thing tomorrow"),
    "weekday": cue_rx(*(_WEEKDAYS[d] for d in range(7))),
    "this_week": cue_rx(r"this (?:week|weekend)", r"end of (?:the )?week", r"by (?:the )?(?:end of|next)",
        r"deadline", r"rsvp", r"due", r"esta semana", r"este (?:finde|fin de semana)", r"fecha limite",
        r"essa semana", r"esta semana", r"este fim de semana", r"prazo", r"diese woche", r"dieses wochenende",
        r"frist", r"cette semaine", r"ce (?:week-end|weekend)", r"date limite", r"avant (?:le|la)",
        r"bis (?:zum|spatestens)", r"(?:next|coming) (?:few )?days", r"en los proximos dias", r"nos proximos dias",
        r"in den nachsten tagen", r"dans les prochains jours",
        r"d'ici (?:lundi|mardi|mercredi|jeudi|vendredi|samedi|dimanche)",
        r"ate (?:segunda|terca|quarta|quinta|sexta|sabado|domingo)",
        r"antes del (?:lunes|martes|miercoles|jueves|viernes|sabado|domingo)"),
    "far_future": cue_rx(r"next (?:month|year)", r"in (?:a few|two|three) (?:months|weeks)",
        r"no (?:specific )?(?:timeline|deadline)", r"(?:this|next) (?:spring|summer|autumn|fall|winter)",
        r"eventually", r"someday", r"sometime", r"christmas", r"el (?:mes|ano) que viene", r"proximo (?:mes|ano)",
        r"navidad", r"(?:mes|ano) que vem", r"natal", r"nachsten (?:monat|jahr)", r"weihnachten", r"irgendwann",
        r"le mois prochain", r"l'annee prochaine", r"noel", r"un de ces jours",
        r"january|february|march|april|june|july|august|september|october|november|december",
        r"enero|febrero|marzo|abril|junio|julio|agosto|septiembre|octubre|noviembre|diciembre",
        r"janeiro|fevereiro|marco|junho|julho|setembro|outubro|novembro|dezembro",
        r"januar|februar|juni|juli|oktober|dezember", r"janvier|fevrier|avril|juin|juillet|aout|septembre|octobre",
        r"in a few weeks", r"en unas semanas", r"daqui a (?:umas|algumas) semanas", r"in ein paar wochen",
        r"dans quelques semaines"),
    "no_rush": cue_rx(r"no (?:rush|hurry|pressure|stress)", r"not urgent", r"whenever",
        r"when(?:ever)? you (?:get|have) (?:a )?(?:chance|time|a sec|a minute)", r"take your time",
        r"at your convenience", r"no big deal", r"not a big deal", r"sin prisa", r"cuando puedas",
        r"cuando tengas (?:un rato|tiempo)", r"no corre prisa", r"no es urgente", r"sem pressa",
        r"quando (?:puder|der)", r"quando tiver (?:um tempo|tempo)", r"nao e urgente", r"com calma", r"keine eile",
        r"kein stress", r"nicht dringend", r"wenn du (?:mal )?zeit hast", r"in ruhe", r"rien ne presse",
        r"pas (?:de )?presse", r"quand tu (?:peux|auras)", r"pas urgent", r"a l'occasion", r"nichts dramatisches",
        r"(?:don'?t|do not) need (?:an answer|a reply|anything) (?:today|right now|now)",
        r"no need to (?:reply|answer)", r"no (?:hace falta|necesitas) (?:que )?(?:contest|respond)\w*",
        r"nao precisa (?:de )?responder", r"(?:musst|brauchst) (?:\w+ )?nicht (?:sofort )?(?:zu )?antworten",
        r"pas besoin de (?:me )?repondre"),
    "waiting": cue_rx(r"still (?:waiting|no|nothing|haven'?t|not)", r"been waiting",
        r"(?:it'?s been|been|for) (?:\w+ )?(?:days|weeks|hours)", r"on hold", r"third time", r"again",
        r"sigo esperando", r"todavia no", r"aun no", r"llevo \w+ (?:dias|semanas|horas)", r"otra vez",
        r"ainda (?:estou esperando|nao|nada)", r"ate agora nada", r"faz \w+ dias", r"de novo",
        r"warte (?:immer )?noch", r"immer noch (?:nicht|kein)", r"seit \w+ (?:tagen|wochen|stunden)", r"schon wieder",
        r"j'attends toujours", r"toujours (?:pas|rien)", r"depuis \w+ (?:jours|semaines|heures)", r"encore une fois"),
    "days_waited": cue_rx(r"(?:it'?s|it has|only|just) (?:been )?(?:\w+ )?(?:days|weeks)",
        r"(?:\w+ )?days (?:ago|now|late)", r"(?:solo|ya) (?:llevo |han pasado )?\w+ (?:dias|semanas)",
        r"(?:so|ja|faz) \w+ (?:dias|semanas)", r"(?:erst|schon|seit) \w+ (?:tage|tagen|wochen)",
        r"(?:que|depuis|ca fait) \w+ (?:jours|semaines)"),
    "sarcasm": cue_rx(r"🙃", r"🙄", r"thanks for nothing", r"great, another", r"glad to know", r"love (?:how|that)",
        r"so fast", r"apparently", r"clearly", r"no worries,? i'?ll just", r"i'?ll just keep waiting",
        r"take your time", r"gracias por nada", r"que rapidez", r"tranquilo,? (?:yo )?espero",
        r"valeu pela (?:rapidez|pressa)", r"que maravilha", r"pode ficar tranquilo", r"danke auch", r"lauft ja",
        r"sehr zuverlassig", r"echt toll", r"merci pour (?:ta|votre) reactivite", r"bravo", r"legendaire",
        r"prends ton temps", r"super pro", r"it'?s not like", r"sure,? don'?t (?:answer|reply)", r"no es que",
        r"nao e como se", r"ist ja nicht so", r"c'est pas comme si", r"ich warte ja gern", r"yo espero", r"eu espero"),
    "broken": cue_rx(r"(?:is|it'?s|site|website|server|app|shop|store) down", r"not working", r"doesn'?t work",
        r"broken", r"error", r"crash\w*", r"failed", r"declined", r"charging (?:people )?twice",
        r"can'?t (?:log ?in|access|open)", r"outage", r"caid[oa]", r"no funciona", r"no carga", r"fora do ar",
        r"nao funciona", r"erro", r"travou", r"funktioniert nicht", r"geht nicht", r"kaputt", r"fehler",
        r"ausgefallen", r"abgesturzt", r"en panne", r"ne (?:marche|fonctionne) pas", r"erreur", r"plante", r"bug",
        r"rechaza\w*", r"rejeita\w*", r"abgelehnt", r"refusee?s?", r"no (?:sound|audio)", r"kein ton", r"sin sonido",
        r"sem som", r"pas de son", r"expired", r"caducad[oa]", r"expirou", r"abgelaufen", r"expire"),
    "promo": cue_rx(r"\d+ ?% off", r"-\d+ ?%", r"sale", r"discount", r"unsubscribe", r"newsletter", r"shop now",
        r"free shipping", r"limited time", r"last chance", r"promo(?: code)?", r"coupon", r"voucher", r"don'?t miss",
        r"subscribe", r"oferta", r"descuento", r"rebajas", r"darse de baja", r"ultima (?:oportunidad|chance)",
        r"promocao", r"desconto", r"cupom", r"frete gratis", r"descadastr\w+", r"angebot", r"rabatt", r"gutschein",
        r"abmelden", r"letzte chance", r"nur heute", r"soldes", r"reduction", r"desabonner", r"derniere chance",
        r"livraison gratuite", r"ne ratez pas"),
    "automated": cue_rx(r"receipt", r"your order", r"has (?:been )?shipped", r"tracking", r"verification code",
        r"do not reply", r"no-?reply", r"payment of", r"invoice #?\d+", r"reminder", r"summary", r"notification",
        r"your account", r"password", r"recibo", r"tu pedido", r"codigo", r"no responda", r"seu pedido",
        r"pagamento de", r"nao responda", r"bestellung", r"sendungsnummer", r"nicht antworten", r"ihre zahlung",
        r"votre commande", r"expediee?", r"ne pas repondre", r"votre paiement", r"recu", r"out of (?:the )?office",
        r"fuera de la oficina", r"ausente", r"abwesend", r"absente? du bureau", r"colis", r"livraison prevue",
        r"paquete", r"encomenda", r"paket"),
    "phishing": cue_rx(r"verify your (?:account|identity)", r"suspended", r"click (?:here|the link)",
        r"unusual activity", r"you(?:'ve| have)? won", r"claim your", r"confirm your (?:details|account)",
        r"cuenta suspendida", r"has ganado", r"conta suspensa", r"voce ganhou", r"konto gesperrt", r"gewonnen",
        r"compte suspendu", r"vous avez gagne"),
    "first_person": cue_rx(r"i", r"i'?m", r"i'?ve", r"i'?d", r"my", r"yo", r"estoy", r"eu", r"meu", r"minha", r"ich",
        r"mein\w*", r"je", r"j'\w+", r"moi", r"mon"),
    "ack": cue_rx(r"ok(?:ay|ie)?", r"k", r"thanks?(?: (?:you|so much|a lot))?", r"thx", r"ty", r"noted", r"got it",
        r"perfect", r"great", r"cool", r"sounds good", r"will do", r"👍", r"🙏", r"vale", r"gracias", r"perfecto",
        r"genial", r"entendido", r"de acuerdo", r"valeu", r"obrigad[oa]", r"beleza", r"perfeito", r"combinado",
        r"danke(?: dir)?", r"alles klar", r"passt", r"super", r"perfekt", r"merci", r"d'accord", r"parfait",
        r"ca marche", r"c'est note", r"👌", r"🙌", r"np", r"no problem", r"no worries", r"all good", r"de nada",
        r"claro", r"listo", r"dale", r"blz", r"kein problem", r"gern geschehen", r"de rien", r"pas de souci",
        r"ca roule", r"entendu"),
    "laugh": cue_rx(r"(?:l+o+l+)+", r"(?:ha){2,}h?", r"(?:ja){2,}j?", r"k{3,}", r"rs(?:rs)+", r"mdr+", r"ptdr+", r"😂",
        r"🤣", r"xd", r"j[ej]j[ej]+", r"he(?:he)+", r"lmao+", r"😆"),
    "social": cue_rx(r"how (?:was|is|are|did)", r"how'?s", r"what'?s up", r"miss you", r"hope you'?re",
        r"good (?:morning|night)", r"que tal", r"como (?:estas|fue|te fue)", r"te echo de menos", r"como foi",
        r"tudo bem", r"e ai", r"saudade", r"wie war", r"wie geht'?s", r"vermisse", r"c'etait comment", r"ca va",
        r"comment ca va", r"tu me manques", r"bonne nuit", r"night night", r"how have you been", r"long time no see",
        r"como va todo", r"como vai", r"tudo certo", r"alles gut", r"wie lauft'?s", r"quoi de neuf",
        r"comment vas-tu"),
    "reschedule": cue_rx(r"cancel\w*", r"reschedul\w*", r"move (?:the|our|it)", r"postpone\w*", r"push (?:it|the)",
        r"cancelar", r"cambiar", r"mover", r"aplazar", r"remarcar", r"adiar", r"absagen", r"verschieben", r"verlegen",
        r"annuler", r"decaler", r"reporter"),
    "request": cue_rx(r"can (?:you|u)", r"could (?:you|u)", r"would you", r"please", r"pls", r"send me", r"i need",
        r"need you", r"puedes", r"podrias", r"por favor", r"necesito", r"me (?:mandas|envias)", r"pode", r"poderia",
        r"preciso", r"me (?:manda|envia)", r"kannst du", r"konntest du", r"bitte", r"brauche", r"schick", r"peux-tu",
        r"tu (?:peux|pourrais)", r"pourriez-vous", r"s'il (?:te|vous) plait", r"stp", r"svp", r"j'ai besoin",
        r"envoie", r"let me know", r"avisame", r"me avisa", r"sag bescheid", r"dis-moi", r"tiens-moi au courant",
        r"can we", r"could we", r"podemos", r"konnen wir", r"on peut", r"pouvez-vous", r"konnen sie", r"consegue",
        r"da pra"),
    "complaint": cue_rx(r"disappointed", r"unacceptable", r"ridiculous", r"not happy", r"not thrilled", r"refund",
        r"complain\w*", r"decepcionad[oa]", r"inaceptable", r"reembolso", r"queja", r"inaceitavel", r"absurdo",
        r"reclama\w*", r"enttauscht", r"unverschamt", r"inakzeptabel", r"beschwerde", r"decu", r"inadmissible",
        r"remboursement", r"scandaleux", r"lieblos"),
    "gratitude": cue_rx(r"thank(?:s| you) (?:so much|for)", r"grateful", r"appreciate", r"made my (?:day|week)",
        r"mil gracias", r"muchas gracias", r"agradec\w+", r"muito obrigad[oa]", r"vielen dank", r"danke fur",
        r"dankbar", r"merci (?:beaucoup|pour|mille fois)", r"mille mercis", r"reconnaissant"),
    "positive": cue_rx(r"love", r"amazing", r"awesome", r"beautiful", r"happy", r"glad", r"wonderful", r"❤️?", r"😊",
        r"🥰", r"😍", r"encanta", r"precios[oa]", r"feliz", r"maravillos[oa]", r"adoro", r"lind[oa]", r"incrivel",
        r"toll", r"wunderschon", r"freue? mich", r"stark", r"adore", r"magnifique", r"genial", r"content"),
    "excited": cue_rx(r"omg", r"can'?t wait", r"so excited", r"yay+", r"finally", r"🎉", r"🥳", r"😱", r"!!+",
        r"que ilusion", r"por fin", r"que demais", r"finalmente", r"mal posso esperar", r"endlich", r"juhu",
        r"trop hate", r"enfin"),
    "sad": cue_rx(r"sad", r"passed away", r"died", r"funeral", r"miss", r"lonely", r"feeling (?:a bit )?low", r"😢",
        r"😭", r"🥺", r"triste", r"fallecio", r"funeral", r"falleci\w*", r"faleceu", r"velorio", r"traurig",
        r"gestorben", r"beerdigung", r"decede", r"obseques", r"deces"),
    "angry": cue_rx(r"fix it", r"furious", r"worst", r"never again", r"lawyer", r"joke", r"what the", r"wtf",
        r"harto", r"verguenza", r"palhacada", r"frechheit", r"sauer", r"honteux", r"n'importe quoi", r"marre"),
    "concern": cue_rx(r"worried", r"sorry to (?:bother|ask)", r"afraid", r"is everything ok", r"problem", r"issue",
        r"hope (?:it'?s|all)", r"preocupad[oa]", r"perdona (?:que|la) (?:te )?moleste?", r"problema",
        r"desculpa (?:incomodar|a)", r"sorge", r"entschuldig\w*", r"inquiet", r"desole de (?:te|vous) deranger",
        r"souci"),
}
_EMOJI = re.compile(r"[\U0001F000-\U0001FAFF\u2600-\u27BF\u2B00-\u2BFF\uFE0F\u200d]")
_WORD = re.compile(r"[^\W\d_]+")
_MONEY = re.compile(r"[$€£]\s?\d|\d\s?(?:€|eur|usd|reais|r\$)")
_URL = re.compile(r"https?://|www\.|\.com\b")


def shape_cues(text: str) -> dict[str, float]:
    words = _WORD.findall(text)
    letters = [c for c in text if c.isalpha()]
    found = {
        "shape:question": float("?" in text), "shape:exclaim": float(text.count("!") >= 2),
        "shape:short": float(len(words) <= 3), "shape:long": float(len(words) >= 30),
        "shape:emoji_only": float(not words and bool(_EMOJI.search(text))),
        "shape:caps": float(len(letters) >= 8 and sum(c.isupper() for c in letters) / len(letters) > 0.6),
        "shape:money": float(bool(_MONEY.search(text.lower()))), "shape:url": float(bool(_URL.search(text.lower()))),
    }
    return {k: v for k, v in found.items() if v}


def read_cues(text: str) -> dict[str, str]:
    """The cue groups that fire on `text`, each with the first phrase that matched."""
    folded = fold(text)
    found = {}
    for name, rx in CUES.items():
        match = rx.search(folded)
        if match:
            found[name] = match.group(0)
    return found


def cue_features(text: str, found: dict[str, str]) -> dict[str, float]:
    return {**{f"cue:{name}": 1.0 for name in found}, **shape_cues(text)}


def triage_cues(text: str, contact: str = "") -> dict[str, float]:
    """Features for the learned heads. The contact is left out: it did not help in cross-validation and
    would tie the model to the shipped mix of senders; it adjusts the urgency afterwards instead."""
    return cue_features(text, read_cues(text))


def _loader(key: str) -> Any:
    def load() -> list[Example]:
        return [Example(r["text"], str(r[key]).lower(), r["lang"], r["contact_classification"])
                for r in read_jsonl("triage.jsonl")]
    return load


# cs (embedding, n-grams, cues): 5-fold cross-validation on the training split (macro-F1).
PRIORITY = TaskSpec("priority", _loader("priority"), triage_cues, cs=(10.0, 3.0, 10.0))
INTENT = TaskSpec("intent", _loader("intent"), triage_cues, cs=(30.0, 3.0, 3.0))
TONE = TaskSpec("emotional_tone", _loader("emotional_tone"), triage_cues, cs=(1.0, 3.0, 10.0))
NEEDS_ACTION = TaskSpec("needs_action", _loader("needs_action"), triage_cues, cs=(3.0, 3.0, 3.0))
TASKS = (PRIORITY, INTENT, TONE, NEEDS_ACTION)


@dataclass
class TriageResult:
    """The seed 000 /triage response, plus `evidence`: the rules that fired, the cues found, and for
    each learned head its label, confidence, weighted cues and nearest labelled examples."""

    urgency_score: float
    adjusted_urgency: float
    priority: str
    intent: str
    emotional_tone: str
    suggested_response_time: str
    is_urgent: bool
    needs_action: bool
    evidence: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Fired:
    rule: str
    matched: str
    effect: str


def _today_cues(cues: dict[str, str], now: datetime | None) -> dict[str, str]:
    """With a clock, a weekday name that is today's counts as "today" (a deadline within hours)."""
    if now is not None and "weekday" in cues and re.fullmatch(_WEEKDAYS[now.weekday()], cues["weekday"]):
        return {**cues, "today": cues["weekday"]}
    return cues


def priority_rules(cues: dict[str, str], contact: str, learned: str) -> tuple[str, list[Fired]]:
    """The learned priority, overridden where the wording decides (README definitions)."""
    def first(*names: str) -> str:
        return next(cues[n] for n in names if n in cues)

    personal = any(n in cues for n in ("waiting", "broken", "complaint", "emergency", "distress", "first_person"))
    if contact == "unknown" and ("promo" in cues or "phishing" in cues) and not personal:
        return "low", [Fired("bulk_sender", first("promo", "phishing"), "promotion or phishing from a stranger: low")]
    if ("sarcasm" in cues or "no_rush" in cues) and ("waiting" in cues or "days_waited" in cues):
        return "urgent", [Fired("sarcastic_waiting", first("sarcasm", "no_rush"), "sarcasm about being kept waiting: urgent")]
    if "emergency" in cues or "distress" in cues:
        return "urgent", [Fired("emergency", first("emergency", "distress"), "emergency or distress: urgent")]
    if "no_rush" in cues and learned in ("urgent", "time-sensitive") and "within_hours" not in cues:
        return "routine", [Fired("no_rush", cues["no_rush"], "no time pressure: routine at most")]
    deadline = "within_hours" in cues or ("today" in cues and "clock" in cues)
    if deadline and learned in ("time-sensitive", "routine"):
        return "urgent", [Fired("deadline_today", first("within_hours", "today"), "deadline within hours: urgent")]
    return learned, []


def response_time(priority: str, adjusted: float) -> str:
    if priority == "urgent":
        return "immediate" if adjusted >= 0.85 else "within 1 hour"
    if priority == "time-sensitive":
        return "today" if adjusted >= 0.6 else "within 24 hours"
    return "within 24 hours" if priority == "routine" else "when convenient"


def _urgency(probabilities: dict[str, float], priority: str) -> float:
    """A score inside the final priority's band: towards its urgent end the surer the learned head is of
    an urgent or time-sensitive message, towards its calm end the surer it is of a routine or low one."""
    low, high = URGENCY_BANDS[priority]
    sure = probabilities.get(priority, 0.0)
    position = sure if priority in ("urgent", "time-sensitive") else 1.0 - sure
    return round(low + (high - low) * position, 3)


def triage(text: str, contact_classification: str = "unknown", *, now: datetime | None = None,
           embedder: Any = None, models: ClassifierSet | None = None) -> TriageResult:
    """Triage one message (blocking: embeds, and trains the heads on first use)."""
    return triage_batch([(text, contact_classification)], now=now, embedder=embedder, models=models)[0]


def triage_batch(items: Sequence[tuple[str, str]], *, now: datetime | None = None, embedder: Any = None,
                 models: ClassifierSet | None = None) -> list[TriageResult]:
    """Triage (text, contact classification) pairs with one embedding call for all of them."""
    embedder = embedder or default_embedder()
    texts = [text for text, _ in items]
    vectors = embedder.embed(texts) if texts else np.zeros((0, 1), np.float32)
    return triage_vectors(vectors, items, now=now, embedder=embedder, models=models)


def triage_vectors(vectors: np.ndarray, items: Sequence[tuple[str, str]], *, now: datetime | None = None,
                   embedder: Any = None, models: ClassifierSet | None = None) -> list[TriageResult]:
    """Triage with the texts' embeddings already computed (the embedder is only needed to train)."""
    if not items:
        return []
    models = models or default_models()
    heads = {spec.name: models.text_model(spec, embedder or default_embedder()) for spec in TASKS}
    texts = [text for text, _ in items]
    contacts = [c if c in CONTACTS else "unknown" for _, c in items]
    found = [read_cues(text) for text in texts]
    rows = [cue_features(text, cues) for text, cues in zip(texts, found)]
    grams = heads[PRIORITY.name].featurizer.analyze(texts)  # the heads share featurization settings
    predicted = {name: head.predict(vectors, texts, contacts, cue_rows=rows, grams=grams,
                                    nearest=3 if name == "priority" else 0)
                 for name, head in heads.items()}
    return [_result(contacts[i], _today_cues(found[i], now), {n: p[i] for n, p in predicted.items()})
            for i in range(len(items))]


def _result(contact: str, cues: dict[str, str], heads: dict[str, Prediction]) -> TriageResult:
    priority, fired = priority_rules(cues, contact, heads["priority"].label)
    rule = fired[0].rule if fired else ""
    intent = "promotional" if rule == "bulk_sender" else heads["intent"].label
    tone = "sarcastic" if rule == "sarcastic_waiting" else heads["emotional_tone"].label
    needs_action = (heads["needs_action"].label == "true" or priority == "urgent") and rule != "bulk_sender"
    score = _urgency(heads["priority"].probabilities, priority)
    adjusted = round(min(1.0, max(0.0, score + CONTACT_ADJUST[contact])), 3)
    evidence = {
        "rules": [asdict(f) for f in fired], "cues": cues,
        "learned": {name: (pred.evidence() if name == "priority" else
                           {"label": pred.label, "confidence": round(pred.confidence, 3), "cues": pred.cues[:3]})
                    for name, pred in heads.items()},
    }
    return TriageResult(score, adjusted, priority, intent, tone, response_time(priority, adjusted),
                        priority == "urgent", needs_action, evidence)
