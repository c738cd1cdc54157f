"""Sales signals in a contact's messages: the intent of one message (nine classes, seed 000 /sales/classify)
and the risk that a contact is a freeloader, a scammer or a time waster (/sales/detect-bad-actor).

The intent is a learned head (brain/classifier.py) over the embedding, character n-grams and the cues
below plus brain.sales_cues' acceptance/payment/inquiry cues. Rules override it where wording is
decisive (the labelling rules of brain/data/README.md): an unmistakable scam move (gift-card payment,
refund-the-difference, seed phrase, handing over a code, an advance fee...) is `scam_pattern`; a price
question phrased as a booking is `price_inquiry`; a bare acceptance right after a quoted price is
`agreement`; system text ("Missed voice call", "This message was deleted", a lone emoji) is `unknown`.

Bad actors: each contact message gets the intent head's probabilities; their maximum and mean, the
count of scam/free/waste cues and a few conversation shapes feed one logistic regression per flag,
trained on brain/data/bad_actor.jsonl (deterministic 80/20 split, stratified by the flag combination).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits

from brain import sales_cues
from brain.classifier import (ClassifierSet, EmbeddingCache, Example, Prediction, TaskSpec, TextClassifier, cue_rx,
                              default_embedder, default_models, fold, read_jsonl, stable_split)
from brain.prices import extract_prices
from brain.triage import shape_cues

INTENTS = ("booking_intent", "price_inquiry", "agreement", "free_request", "time_waste", "scam_pattern",
           "casual_chat", "compliment", "unknown")
POSITIVE = {"booking_intent", "price_inquiry", "agreement"}
NEGATIVE = {"free_request", "time_waste", "scam_pattern"}
ATTENTION = POSITIVE | {"scam_pattern"}
FLAGS = ("freeloader", "scam", "time_waste")

CUES: dict[str, re.Pattern[str]] = {
    "price": cue_rx(r"how much", r"prices?", r"pricing", r"rates?", r"costs?", r"charge", r"quote", r"fees?",
        r"packages?", r"discount", r"shipping", r"deposit", r"vat", r"cheaper", r"budget", r"what'?s the damage",
        r"cuanto", r"precios?", r"tarifas?", r"cuesta", r"presupuesto", r"descuento", r"envio", r"iva", r"mas barato",
        r"quanto", r"precos?", r"valor", r"custa", r"orcamento", r"desconto", r"frete", r"parcela\w*", r"mais barato",
        r"was kostet", r"wie ?viel", r"preise?", r"kosten", r"rabatt", r"versand", r"anzahlung", r"mwst",
        r"gunstiger", r"combien", r"prix", r"tarifs?", r"coute", r"devis", r"reduction", r"frais", r"acompte", r"tva",
        r"moins cher", r"what do you charge", r"what would it (?:cost|run)", r"price list", r"ballpark", r"estimate",
        r"que precio", r"lista de precios", r"tabela de precos", r"was nimmst du", r"was verlangst du", r"preisliste",
        r"kostenvoranschlag", r"a combien", r"quel (?:est le )?tarif", r"grille tarifaire"),
    "book": cue_rx(r"book(?:ing)?", r"schedule", r"reserve", r"order", r"hire", r"sign me up", r"wait ?list",
        r"put me down", r"lock (?:you|it) in", r"appointment",
        r"is (?:the )?\d+\w* (?:still )?(?:free|open|available)", r"i'?d like to", r"i want (?:the|to)", r"reservar",
        r"agendar", r"contratar", r"encargar", r"apuntame", r"lista de espera", r"cita", r"quiero", r"marcar",
        r"encomendar", r"quero", r"horario", r"buchen", r"reservieren", r"bestellen", r"termin", r"eintragen",
        r"warteliste", r"ich mochte", r"reserver", r"commander", r"rendez-vous", r"inscri\w+", r"liste d'attente",
        r"creneaux?", r"je voudrais", r"commission\w*", r"engager", r"contratar\w*", r"encaixar", r"trag \w+ ein",
        r"machen lassen", r"(?:we|i) (?:want|wanna|would love) (?:to )?(?:hire|book|have you)", r"nous souhaitons",
        r"je souhaite", r"ready to (?:get )?start\w*",
        r"(?:how do i|como hago|como faco) (?:\w+ )?(?:order|pedido|pedir|compra\w*)",
        r"(?:send|manda) (?:me )?(?:o |the )?link (?:pra|to|para) (?:eu )?(?:comprar|buy|order)", r"available on",
        r"free on", r"any availability", r"fit me in", r"squeeze me in", r"hueco", r"disponibilidad", r"tem vaga",
        r"tem horario", r"hast du (?:am \w+ )?zeit", r"noch frei", r"termin frei", r"(?:tu es|vous etes) dispo\w*",
        r"i'?ll (?:take|buy)", r"i want to buy", r"quiero comprar", r"quero comprar", r"ich (?:will|mochte) kaufen",
        r"je veux acheter"),
    "free": cue_rx(r"(?:for )?free", r"exposure", r"shout ?out", r"tag you", r"credit you", r"promote you",
        r"portfolio", r"equity", r"(?:as a )?gift", r"(?:no|zero) budget", r"samples?", r"trial", r"watermark\w*",
        r"pick your brain", r"favou?r", r"charity", r"it'?s (?:only|just) \w+ (?:sec|seconds|minutes|min)", r"gratis",
        r"sin cobrar", r"de regalo", r"exposicion", r"te (?:menciono|etiqueto)", r"muestra", r"marca de agua",
        r"sin presupuesto", r"de graca", r"sem cobrar", r"divulgacao", r"te marco", r"marca d'agua", r"de presente",
        r"amostra", r"sem orcamento", r"parceria", r"permuta", r"umsonst", r"kostenlos", r"geschenk", r"verlink\w+",
        r"markier\w+", r"wasserzeichen", r"probe", r"kein budget", r"reichweite", r"kooperation", r"ehrenamtlich",
        r"gratuit\w*", r"gratos", r"offert", r"cadeau", r"visibilite", r"je te mentionne", r"filigrane",
        r"echantillon", r"pas de budget", r"partenariat", r"benevole\w*", r"collab", r"regal\w+", r"schenk\w+",
        r"(?:m'|me )?offrir", r"for nothing", r"no (?:te )?cuesta nada", r"real quick", r"vite fait",
        r"(?:\d+|two|deux|dos|zwei) (?:sec|secondes|seconds|segundos|sekunden|min)", r"(?:take|takes) you no time",
        r"rapidinho", r"rapidito", r"kurz mal",
        r"(?:test|teste|maquette|entwurf|sample)\w* (?:\w+ ){0,4}(?:first|primero|primeiro|d'abord|erstmal|zuerst)",
        r"(?:first|primero|primeiro|d'abord|erstmal|zuerst)\W.{0,60}(?:pay|pag|zahl|pai)\w*",
        r"(?:if|si|se|wenn) (?:we|you|on|a gente|nos|es|ca) (?:\w+ )?(?:like|gusta|gostar|plait|passt)\w*",
        r"no charge", r"complimentary", r"on the house", r"in exchange for", r"a cambio de", r"em troca de",
        r"im austausch", r"en echange de", r"sin pagar", r"sem pagar", r"ohne bezahlung", r"sans payer",
        r"can'?t pay", r"no puedo pagar", r"nao posso pagar", r"kann nicht (?:be)?zahlen", r"peux pas payer",
        r"unpaid", r"volunteer", r"voluntari[oa]"),
    "waste": cue_rx(r"just curious", r"hypothetical\w*", r"maybe (?:later|next)", r"some ?day", r"not sure", r"idk",
        r"not buying", r"just (?:asking|wondering)", r"what if", r"again", r"one more question", r"no idea",
        r"por curiosidad", r"quizas", r"tal vez", r"algun dia", r"no se", r"solo preguntaba", r"otra vez",
        r"ya veremos", r"so curiosidade", r"talvez", r"quem sabe", r"um dia", r"nao sei", r"de novo",
        r"so perguntando", r"nur neugierig", r"vielleicht", r"irgendwann", r"mal sehen", r"weiss nicht", r"nochmal",
        r"wer weiss", r"par curiosite", r"peut-etre", r"un jour", r"je sais pas", r"on verra", r"encore",
        r"juste pour savoir", r"bored", r"me aburro", r"m'ennuie", r"langweilig",
        r"(?:not|no|nao|nicht) (?:gonna|going to|voy a|vou|will) (?:buy|comprar|kaufen)\w*", r"keep it in mind",
        r"circle back", r"still thinking", r"ainda (?:to|estou) pensando", r"j'hesite",
        r"before (?:deciding|i decide)", r"antes de decidir", r"bevor ich mich entscheide", r"avant de me decider",
        r"just (?:wanna|want to) know", r"just (?:looking|browsing)", r"window shopping", r"we'?ll see",
        r"not right now", r"ahora no", r"agora nao", r"jetzt nicht", r"pas maintenant", r"solo mirando",
        r"so olhando", r"nur (?:schauen|gucken)", r"je regarde juste"),
    "scam": cue_rx(r"gift ?cards?", r"itunes", r"steam card", r"google play", r"overpa\w+",
        r"refund the (?:difference|rest|extra)", r"send (?:back|me back) the", r"forward (?:the|part)", r"cheque",
        r"check for", r"money order", r"western union", r"moneygram", r"crypto\w*", r"bitcoin", r"btc", r"usdt",
        r"ethereum", r"wallet", r"seed phrase", r"recovery phrase", r"verif\w+",
        r"(?:sms|6[- ]digit|verification|security) code", r"the code", r"otp", r"whatsapp", r"telegram", r"apk",
        r"log ?in", r"password", r"bank (?:details|login)", r"(?:id|passport) (?:copy|scan)", r"shipping agent",
        r"courier", r"(?:processing|activation|registration|clearance|release) fee", r"agent", r"assistant",
        r"sponsor\w*", r"inheritance", r"tarjeta regalo", r"devolver la diferencia", r"reenvia\w*", r"frase semilla",
        r"codigo", r"verificar", r"tasa", r"dni", r"claves bancarias", r"transportista", r"cartao presente",
        r"vale[- ]presente", r"devolver a diferenca", r"taxa de \w+", r"transportadora", r"cpf", r"senha",
        r"dados bancarios", r"geschenkkarte", r"gutscheincode", r"scheck", r"differenz", r"krypto", r"gebuhr",
        r"spedition", r"ausweis\w*", r"passwort", r"zugangsdaten", r"carte cadeau", r"cheque", r"la difference",
        r"virez le reste", r"frais de \w+", r"transporteur", r"piece d'identite", r"mot de passe",
        r"coordonnees bancaires", r"https?://\S+", r"\w+[.-](?:com|net|xyz|info|top|fr|de)\b", r"kindly",
        r"hello dear", r"money is not a (?:problem|issue)", r"gutschein\w*", r"identifiants", r"rib", r"passeport",
        r"transitaire", r"sms", r"avance\w* (?:les|los|os|die) (?:frais|gastos|custos|kosten)", r"urgently",
        r"payment pending", r"click to (?:receive|accept)", r"customs", r"aduana", r"alfandega", r"zoll", r"douane",
        r"on my behalf", r"investment", r"guaranteed (?:returns|profit)", r"double your money", r"inversion",
        r"investimento", r"investition", r"investissement"),
    "casual": cue_rx(r"weekend", r"weather", r"good (?:morning|night)", r"how are you", r"holiday", r"birthday",
        r"coffee", r"finde", r"buenos dias", r"buenas noches", r"que tal", r"vacaciones", r"cumple\w*",
        r"fim de semana", r"bom dia", r"boa noite", r"tudo bem", r"ferias", r"aniversario", r"wochenende", r"wetter",
        r"guten morgen", r"gute nacht", r"wie geht'?s", r"urlaub", r"geburtstag", r"week-?end", r"meteo",
        r"bonne nuit", r"ca va", r"vacances", r"anniversaire", r"good luck", r"get well", r"merry christmas",
        r"happy (?:new year|holidays)", r"congrat\w*", r"buena suerte", r"mejorate", r"feliz (?:navidad|ano|natal)",
        r"boa sorte", r"melhoras", r"viel gluck", r"gute besserung", r"frohe weihnachten",
        r"bonne (?:chance|journee|soiree)", r"bon retablissement", r"joyeux noel", r"prends soin de toi",
        r"how'?s it going", r"what are you up to", r"que haces", r"o que (?:ta|esta) fazendo", r"was machst du",
        r"tu fais quoi", r"hope you'?re (?:doing )?well", r"rain\w*", r"snow\w*", r"sunny", r"hot", r"cold",
        r"lluvia", r"llueve", r"nieve", r"calor", r"frio", r"chuva", r"chovendo", r"neve", r"regen", r"regnet",
        r"schnee", r"hitze", r"kalt", r"pluie", r"pleut", r"neige", r"chaud", r"froid"),
    "praise": cue_rx(r"love", r"amazing", r"stunning", r"beautiful", r"talented", r"incredible", r"the best",
        r"obsessed", r"gorgeous", r"great job", r"😍", r"🔥", r"precios[oa]", r"increible", r"me encanta", r"talento",
        r"brutal", r"espectacular", r"lind[oa]", r"incrivel", r"amei", r"maravilhos[oa]", r"arrasou", r"wunderschon",
        r"grossartig", r"der hammer", r"begeistert", r"mega", r"magnifique", r"superbe", r"sublime", r"dingue",
        r"j'adore", r"talent", r"quality", r"calidad", r"qualidade", r"qualitat", r"qualite", r"perfect[aoe]?",
        r"parfaite?", r"(?:the|der|das|die) beste?", r"wow", r"so good", r"nailed it", r"masterpiece",
        r"obra de arte", r"obra-prima", r"meisterwerk", r"chef-d'oeuvre", r"so talented", r"que talento",
        r"so talentiert", r"trop doue"),
    "date": cue_rx(r"\d{1,2}(?:st|nd|rd|th)", r"(?:the|el|le|am|dia|o) \d{1,2}\.?(?!\d)",
        r"\d{1,2}[./]\d{1,2}(?:[./]\d{2,4})?", r"(?:mon|tues|wednes|thurs|fri|satur|sun)day",
        r"lunes|martes|miercoles|jueves|viernes|sabado|domingo", r"segunda|terca|quarta|quinta|sexta",
        r"montag|dienstag|mittwoch|donnerstag|freitag|samstag|sonntag",
        r"lundi|mardi|mercredi|jeudi|vendredi|samedi|dimanche", r"tomorrow|manana|amanha|morgen|demain",
        r"next (?:week|month)|(?:la )?semana que vem|proxima semana|nachste woche|semaine prochaine"),
    "received": cue_rx(r"arrived", r"came (?:in|today)", r"got (?:it|the|my)", r"received", r"llego", r"recibi",
        r"chegou", r"recebi", r"angekommen", r"erhalten", r"bekommen", r"(?:est )?arrivee?", r"recu"),
    "system": cue_rx(r"missed (?:voice |video )?call", r"message (?:was )?deleted", r"\[?attachment\]?", r"delivered",
        r"auto(?:matic)?[- ]?reply", r"wrong number", r"who is this", r"sticker", r"(?:image|media) omitted",
        r"llamada perdida", r"mensaje eliminado", r"adjunto", r"respuesta automatica", r"numero equivocado",
        r"quien eres", r"chamada perdida", r"mensagem apagada", r"anexo", r"resposta automatica", r"numero errado",
        r"quem e", r"verpasster anruf", r"nachricht geloscht", r"anhang", r"automatische antwort", r"falsche nummer",
        r"wer ist das", r"appel manque", r"message supprime", r"piece jointe", r"reponse automatique",
        r"mauvais numero", r"c'est qui", r"wrong (?:chat|person)", r"me equivoque",
        r"(?:is this|es (?:la|el)|e (?:a|o|da|do)|ist das|c'est bien) (?:the )?\w+", r"reacted",
        r"(?:wurde|was) geloscht", r"(?:a ete )?supprime", r"your (?:\w+ )?code is", r"tu codigo es", r"seu codigo e",
        r"dein code (?:ist|lautet)", r"votre code est", r"voice (?:message|note)", r"nota de voz", r"mensagem de voz",
        r"sprachnachricht", r"message vocal", r"<?(?:media|image|video|sticker|gif) omitted>?",
        r"you deleted this message", r"eliminaste este mensaje", r"mom", r"mum", r"dad", r"mama", r"papa", r"mae",
        r"pai", r"maman", r"amor", r"honey", r"babe", r"schatz", r"cherie?", r"carino"),
}
# Unmistakable scam moves: these decide the intent whatever the head says.
SCAM_RULES: dict[str, re.Pattern[str]] = {
    "gift_card_payment": cue_rx(r"(?:pay|paid|payment)\w* (?:\w+ ){0,3}(?:gift ?cards?|itunes|steam|google play)",
        r"gift ?cards?", r"tarjetas? regalo", r"cart(?:ao|oes) presente", r"geschenkkarten?", r"cartes? cadeaux?"),
    "overpayment_refund": cue_rx(r"refund the (?:difference|rest|extra)",
        r"send (?:me )?back the (?:difference|rest|extra)", r"overpa\w+",
        r"(?:devuelv\w+|reenvi\w+) (?:la diferencia|el resto)", r"devolv\w+ a diferenca",
        r"(?:differenz|rest) (?:zuruck|weiter)\w*", r"(?:rembourse\w*|virez|renvoyez) (?:la difference|le reste)"),
    "secret_or_code": cue_rx(r"codes?\W.{0,60}(?:schick\w*|send|envoie\w*|envoy\w*|manda\w*|pasa\w*|passa)",
        r"seed phrase", r"recovery phrase", r"frase semilla",
        r"(?:send|give|share|tell|pass) (?:me )?(?:the|that|your) (?:\w+ )?code",
        r"(?:mandame|pasame|dime) el codigo", r"(?:me )?(?:passa|manda) o codigo", r"schick \w+ (?:den )?code",
        r"(?:envoyez|donnez|envoie)(?:-moi)? (?:le|ce) code", r"tan[- ]?liste", r"claves bancarias"),
    "advance_fee": cue_rx(r"(?:processing|activation|registration|clearance|release|unlock) fee",
        r"taxa de (?:cadastro|liberacao|ativacao)", r"tasa de (?:activacion|registro|liberacion)",
        r"(?:aktivierungs|bearbeitungs|freischaltungs)gebuhr", r"frais (?:d'activation|de deblocage|de dossier)"),
}
SYSTEM_TEXT = re.compile(r"^\W*(?:missed (?:voice |video )?call|this message was deleted|\[?attachment\]?|delivered|read|"
                         r"llamada perdida|chamada perdida|verpasster anruf|appel manque)\W*$")


def read_cues(text: str) -> dict[str, str]:
    folded = fold(text)
    return {name: m.group(0) for name, rx in CUES.items() if (m := rx.search(folded))}


def scam_rules(text: str) -> dict[str, str]:
    folded = fold(text)
    return {name: m.group(0) for name, rx in SCAM_RULES.items() if (m := rx.search(folded))}


def sales_features(text: str, hint: str = "") -> dict[str, float]:
    features = {f"cue:{name}": 1.0 for name in read_cues(text)}
    if text.count("?") >= 3:  # "endless questions"
        features["shape:many_questions"] = 1.0
    moves = sales_cues.read_cues(text)
    features.update({f"move:{name}": 1.0 for name, on in vars(moves).items() if on})
    features.update({f"scam:{name}": 1.0 for name in scam_rules(text)})
    features.update(shape_cues(text))
    return features


def _load_intents() -> list[Example]:
    return [Example(r["text"], r["intent"], r["lang"]) for r in read_jsonl("sales_intent.jsonl")]


# cs (embedding, n-grams, cues): 5-fold cross-validation on the training split (macro-F1).
SALES_INTENT = TaskSpec("sales_intent", _load_intents, sales_features, cs=(3.0, 3.0, 1.0))


def intent_rules(text: str, learned: str, context: Sequence[Any] = ()) -> tuple[str, list[dict[str, str]]]:
    """(intent, rules that fired): the learned intent unless one of the module's rules decides."""
    def fired(intent: str, rule: str, matched: str, effect: str) -> tuple[str, list[dict[str, str]]]:
        return intent, [{"rule": rule, "matched": matched, "effect": effect}]

    scams, cues = scam_rules(text), read_cues(text)
    if scams and learned != "scam_pattern":
        return fired("scam_pattern", *next(iter(scams.items())), "scam move: scam_pattern")
    if learned == "booking_intent" and "?" in text and "price" in cues:
        return fired("price_inquiry", "price_as_booking", cues["price"], "a price question phrased as a booking")
    if learned in ("unknown", "casual_chat", "compliment") and _accepts_quote(text, context):
        return fired("agreement", "accepts_quote", text.strip()[:40], "acceptance right after a quoted price")
    if learned != "unknown" and (SYSTEM_TEXT.search(fold(text)) or not re.search(r"\w", text)):
        return fired("unknown", "system_text", text.strip()[:40], "system text or emoji: unknown")
    return learned, []


def _accepts_quote(text: str, context: Sequence[Any]) -> bool:
    """"ok deal" / "fechado" right after a message that quoted a price."""
    if not context or "?" in text:
        return False
    moves = sales_cues.read_cues(text)
    last = context[-1]
    quoted = bool(extract_prices(str(last.get("content", "")) if isinstance(last, dict) else str(last)))
    return quoted and (moves.accept_strong or moves.payment or moves.accept_weak) and not moves.decline


def intent_head(embedder: Any = None, models: ClassifierSet | None = None) -> TextClassifier:
    return (models or default_models()).text_model(SALES_INTENT, embedder or default_embedder())


def predict_intents(head: TextClassifier, vectors: np.ndarray, texts: Sequence[str], *,
                    explain: bool = True) -> list[Prediction]:
    rows = [sales_features(text) for text in texts]
    return head.predict(vectors, texts, cue_rows=rows, explain=explain, nearest=3 if explain else 0)


def classify_sales(message: str, context: Sequence[Any] = (), *, embedder: Any = None,
                   models: ClassifierSet | None = None) -> dict[str, Any]:
    """Seed 000 /sales/classify for one message; `context` holds the earlier messages (texts or
    {"content": ...} dicts, oldest first). Blocking."""
    embedder = embedder or default_embedder()
    head = intent_head(embedder, models)
    prediction = predict_intents(head, embedder.embed([message]), [message])[0]
    return sales_result(message, prediction, context)


def sales_result(text: str, prediction: Prediction, context: Sequence[Any] = ()) -> dict[str, Any]:
    intent, fired = intent_rules(text, prediction.label, context)
    probs = prediction.probabilities
    confidence = max(probs.get(intent, 0.0), 0.9) if fired else probs.get(intent, 0.0)
    secondary = [[label, round(p, 3)] for label, p in sorted(probs.items(), key=lambda kv: -kv[1])
                 if label != intent and p >= 0.1][:3]
    return {
        "intent": intent, "confidence": round(confidence, 3), "secondary_intents": secondary,
        "is_positive_signal": intent in POSITIVE, "is_negative_signal": intent in NEGATIVE,
        "requires_attention": intent in ATTENTION, "raw_message": text,
        "evidence": {"rules": fired, "cues": read_cues(text), "learned": prediction.evidence()},
    }


# ---------------------------------------------------------------- bad actors

FLAG_NAMES = {"free_request": "free_content_request", "scam_pattern": "scam_pattern", "time_waste": "time_waste"}
REASONS = {"free_request": "Asked for work, content or advice without paying",
           "time_waste": "Keeps the conversation going with no intent to buy",
           "scam_pattern": "Message matches a known fraud pattern"}
_SUMMARISED = ("free_request", "time_waste", "scam_pattern", "booking_intent", "agreement", "price_inquiry", "casual_chat")


@dataclass
class BadActorModel:
    """One logistic regression per flag over conversation features."""

    names: list[str]
    heads: dict[str, LogisticRegression]

    def scores(self, features: dict[str, float]) -> dict[str, float]:
        row = np.array([[features.get(n, 0.0) for n in self.names]])
        return {flag: float(head.predict_proba(row)[0, 1]) for flag, head in self.heads.items()}


def contact_messages(conversation: Sequence[dict[str, Any]]) -> list[tuple[int, str]]:
    """(index, text) of the contact's messages: sender "contact" (or role "user"), or no sender at all."""
    out = []
    for i, message in enumerate(conversation):
        who = str(message.get("sender") or message.get("role") or "contact").lower()
        if who in ("contact", "user") and str(message.get("content", "")).strip():
            out.append((i, str(message["content"])))
    return out


def conversation_features(predictions: Sequence[Prediction], texts: Sequence[str]) -> dict[str, float]:
    """Per-message intent probabilities summarised (max, mean) plus cue counts and shape."""
    features: dict[str, float] = {}
    for label in _SUMMARISED:
        values = [p.probabilities.get(label, 0.0) for p in predictions] or [0.0]
        features[f"max:{label}"], features[f"mean:{label}"] = max(values), float(np.mean(values))
    cues = [read_cues(t) for t in texts]
    for name in ("free", "waste", "scam", "price", "book"):
        features[f"cues:{name}"] = min(3, sum(name in c for c in cues)) / 3
    features["rules:scam"] = float(any(scam_rules(t) for t in texts))
    features["questions"] = min(6, sum(t.count("?") for t in texts)) / 6
    features["messages"] = min(6, len(texts)) / 6
    return features


def _bad_actor_rows() -> list[tuple[Example, list[str], dict[str, int]]]:
    rows = []
    for r in read_jsonl("bad_actor.jsonl"):
        texts = [t for _, t in contact_messages(r["conversation"])]
        flags = {f: int(r[f]) for f in FLAGS}
        label = "".join(str(flags[f]) for f in FLAGS)  # the flag combination, to stratify the split
        rows.append((Example(json.dumps(r["conversation"], ensure_ascii=False), label, r["lang"]), texts, flags))
    return rows


def bad_actor_fingerprint(models: ClassifierSet) -> str:
    blob = json.dumps([models.fingerprint(SALES_INTENT), [e.text + e.label for e, _, _ in _bad_actor_rows()]])
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def train_bad_actor(embedder: Any, head: TextClassifier,
                    cache: EmbeddingCache | None = None) -> tuple[BadActorModel, dict[str, Any]]:
    """Fit the per-flag heads on the training split of bad_actor.jsonl; score the held-out split."""
    from brain.classifier import score

    rows = _bad_actor_rows()
    texts = sorted({t for _, ts, _ in rows for t in ts})
    lookup = dict(zip(texts, (cache or EmbeddingCache()).embed(embedder, texts)))
    feats = {}
    for example, ts, _ in rows:
        vectors = np.array([lookup[t] for t in ts]).reshape(len(ts), -1)
        feats[example.text] = conversation_features(predict_intents(head, vectors, ts, explain=False) if ts else [], ts)
    names = sorted(next(iter(feats.values())))
    train, test = stable_split([e for e, _, _ in rows])
    flags = {e.text: f for e, _, f in rows}
    matrix = lambda part: np.array([[feats[e.text][n] for n in names] for e in part])  # noqa: E731
    with threadpool_limits(1):
        heads = {flag: LogisticRegression(C=1.0, class_weight="balanced", max_iter=2000)
                 .fit(matrix(train), [flags[e.text][flag] for e in train]) for flag in FLAGS}
    model = BadActorModel(names, heads)
    held_out = {}
    for flag in FLAGS:
        predicted = [str(int(model.scores(feats[e.text])[flag] >= 0.5)) for e in test]
        held_out[flag] = score([str(flags[e.text][flag]) for e in test], predicted, [e.lang for e in test])
    return model, {"task": "bad_actor", "train_size": len(train), "test_size": len(test), "held_out": held_out}


def bad_actor_model(embedder: Any = None, models: ClassifierSet | None = None) -> BadActorModel:
    models, embedder = models or default_models(), embedder or default_embedder()
    head = intent_head(embedder, models)
    return models.get("bad_actor", bad_actor_fingerprint(models),
                      lambda: train_bad_actor(embedder, head, models.cache))


def detect_bad_actor(conversation: Sequence[dict[str, Any]], include_reasoning: bool = True, *,
                     embedder: Any = None, models: ClassifierSet | None = None) -> dict[str, Any]:
    """Seed 000 /sales/detect-bad-actor over a conversation of {"content", "sender"} dicts. Blocking."""
    embedder, models = embedder or default_embedder(), models or default_models()
    head, model = intent_head(embedder, models), bad_actor_model(embedder, models)
    messages = contact_messages(conversation)
    texts = [text for _, text in messages]
    predictions = predict_intents(head, embedder.embed(texts), texts, explain=False) if texts else []
    scores = model.scores(conversation_features(predictions, texts)) if texts else dict.fromkeys(FLAGS, 0.0)
    flags = red_flags(messages, predictions, include_reasoning)
    if any(f["flag"].startswith("scam:") for f in flags):
        scores["scam"] = max(scores["scam"], 0.9)
    values = list(scores.values())
    combined = max(scores["scam"], 0.7 * max(values) + 0.3 * float(np.mean(values)))
    return {"freeloader_score": round(scores["freeloader"], 3), "scam_risk": round(scores["scam"], 3),
            "time_waste_score": round(scores["time_waste"], 3), "combined_risk": round(combined, 3),
            "red_flags": flags, "recommendation": recommendation(scores)}


def red_flags(messages: Sequence[tuple[int, str]], predictions: Sequence[Prediction],
              include_reasoning: bool) -> list[dict[str, Any]]:
    """Per contact message: each scam rule that fired, and a risky intent the head is confident of."""
    out = []
    for (index, text), prediction in zip(messages, predictions):
        rules = scam_rules(text)
        for rule, matched in rules.items():
            out.append(_flag(f"scam:{rule}", index, f"Scam move ({rule.replace('_', ' ')}): \"{matched}\"", 0.9,
                             include_reasoning))
        intent = prediction.label
        if intent in FLAG_NAMES and prediction.confidence >= 0.5 and not (rules and intent == "scam_pattern"):
            cue = read_cues(text).get({"free_request": "free", "time_waste": "waste"}.get(intent, "scam"))
            reason = REASONS[intent] + (f": \"{cue}\"" if cue else "")
            out.append(_flag(FLAG_NAMES[intent], index, reason, round(prediction.confidence, 2), include_reasoning))
    return out


def _flag(flag: str, index: int, reasoning: str, severity: float, include_reasoning: bool) -> dict[str, Any]:
    found: dict[str, Any] = {"flag": flag, "message_index": index, "severity": severity}
    if include_reasoning:
        found["reasoning"] = reasoning
    return found


def recommendation(scores: dict[str, float]) -> str:
    if scores["scam"] >= 0.5:
        return "Do not proceed - likely scam: never share codes, IDs or bank logins, never refund an overpayment"
    if scores["freeloader"] >= 0.5:
        return "Proceed with caution - high freeloader risk: state your rate before doing any work"
    if scores["time_waste"] >= 0.5:
        return "Keep it short - likely time waster: share your rates and booking link once"
    if max(scores.values()) >= 0.3:
        return "Some risk signals - proceed normally but stay alert"
    return "Looks like a genuine customer"
