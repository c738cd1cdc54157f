"""Phrases that mark a sales move in a message (accepting, declining, pushing back, asking about price,
paying) in English, Spanish, Portuguese, German and French, and a stopword guess of the language.

Every pattern is written lower-case without accents and matched against `fold_same_length(text)`, so
match positions are valid in the original message too.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass


def fold_same_length(text: str) -> str:
    """Lower-case and strip accents character by character (positions are kept)."""
    out = []
    for ch in text.lower().replace("’", "'").replace("‘", "'"):
        base = "".join(c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c))
        out.append(base[:1] or ch)
    return "".join(out)


def _rx(*parts: str) -> re.Pattern[str]:
    return re.compile(r"(?<![\w'])(?:" + "|".join(parts) + r")(?![\w'])")


ACCEPT_STRONG = _rx(
    r"(?<!no )(?<!what's the )deal", r"works for (?:me|us)", r"that works", r"sounds? (?:good|gud|gd|great|fair|fine|perfect)",
    r"let'?s (?:do it|go|go ahead|lock it(?: in)?|book(?: it)?|proceed)", r"go ahead", r"go for it", r"approved",
    r"send(?: me)? (?:the|an|your) invoice", r"send the invoice", r"(?:i'?ll )?send (?:you )?the po", r"i'?m in",
    r"count me in", r"book (?:me|it|us)(?: in)?", r"lock (?:it )?in", r"sold", r"say less", r"^bet", r"agreed",
    r"i accept", r"(?:i'?ll|we'?ll) take (?:it|them|that|the)", r"price is (?:fine|good|ok|okay|great)",
    r"(?:we'?ll|let'?s) proceed", r"signed", r"happy with that", r"fine by me", r"🤝",
    r"trato hecho", r"de acuerdo", r"(?:lo )?acepto", r"me cuadra", r"cerramos", r"cerrado", r"hecho(?=\s*[.!]|$)",
    r"me anoto", r"me quedo con", r"adelante", r"me parece bien", r"me apano", r"reservamos", r"lo tomo",
    r"fechad[oa]", r"fechou", r"fechamos", r"combinado", r"pode ser", r"pode comecar", r"pode emitir", r"aprovado",
    r"topo", r"bora", r"aceito", r"to dentro", r"rola sim", r"negocio fechado",
    r"abgemacht", r"einverstanden", r"passt", r"geht klar", r"nehme? ich", r"wir nehmen", r"nehmen das angebot",
    r"klingt (?:fair|gut|super|perfekt)", r"lass uns (?:das )?(?:machen|loslegen)", r"machen wir", r"sind dabei",
    r"bin dabei", r"im geschaft", r"gebucht", r"angenommen",
    r"ca marche", r"d'accord", r"marche conclu", r"affaire conclue", r"va pour", r"je prends", r"on prend",
    r"on y va", r"on part la[- ]dessus", r"c'est parti", r"banco", r"je valide", r"j'accepte", r"ca me va", r"entendu",
    r"(?:i'?ll|we'?ll|let'?s) go with", r"sign me up", r"you got it", r"sounds like a plan", r"let'?s make it happen",
    r"(?:i|we) confirm", r"confirmed", r"that'?s fine", r"(?:i'?m|we'?re) happy with", r"yes,? please", r"absolutely",
    r"definitely", r"of course", r"love it", r"book me", r"reserve (?:it|me)",
    r"how (?:do|can|should) (?:i|we) pay", r"where (?:do|can|should) (?:i|we) (?:pay|send)", r"payment (?:link|details)",
    r"what'?s your (?:paypal|venmo|iban|zelle|cashapp|bank)", r"(?:bank|account|iban) details",
    r"me parece perfecto", r"lo quiero", r"me lo quedo", r"reservo", r"reservame", r"apuntame", r"confirmo",
    r"confirmad[oa]", r"me sirve", r"me vale", r"esta bien", r"de una", r"orale", r"como te pago", r"donde te pago",
    r"pasame (?:el|tu) (?:link|enlace|cuenta|iban|bizum|numero)",
    r"vamos nessa", r"vamos fechar", r"(?:eu )?quero sim", r"ta bom", r"ta otimo", r"pode fazer", r"pode reservar",
    r"reserva pra mim", r"manda ver", r"show de bola", r"me passa (?:o|a|seu|sua|teu|tua) (?:pix|chave|conta|dados)",
    r"qual (?:o|a) (?:seu |sua |teu |tua )?(?:pix|chave)", r"como (?:faco|faço) (?:o pagamento|pra pagar)",
    r"gebongt", r"alles klar", r"sehr gerne?", r"ich nehme", r"ich buche", r"bestatig\w*", r"in ordnung",
    r"das passt(?: mir| uns)?", r"los geht'?s", r"wie (?:kann|soll) ich (?:dir |ihnen )?(?:bezahlen|zahlen|uberweisen)",
    r"schick(?:e)? mir (?:die|deine|ihre) (?:rechnung|iban|bankdaten|kontodaten)",
    r"ca me convient", r"c'est bon", r"c'est d'accord", r"valide", r"vendu", r"je confirme", r"allons-y", r"ca roule",
    r"je reserve", r"reservez-moi", r"comment (?:je vous|je te|puis-je) (?:paie|payer|regler)",
    r"envoyez-moi (?:la facture|le rib|votre rib)", r"(?:votre|ton) rib",
    r"take my money", r"please proceed", r"you can proceed", r"go ahead and", r"(?:we|i) accept", r"accepted",
    r"i'?m down", r"down for (?:it|that)", r"let'?s roll", r"you'?re hired", r"invoice me",
    r"send (?:over )?the contract", r"where do i sign", r"placed (?:the|an|my) order",
    r"send (?:you )?the money", r"lo hacemos", r"vamos alla", r"como (?:te |le )?pago", r"a que cuenta",
    r"pasas (?:el|tu) (?:numero de cuenta|iban|bizum)", r"si,? por favor", r"hagamoslo", r"pagado", r"transferido",
    r"te (?:envio|mando) el (?:dinero|pago)", r"partiu", r"pode mandar", r"pode seguir", r"combinadissimo",
    r"sim,? por favor", r"gekauft", r"rechnung (?:bitte|an)", r"auftrag", r"ja,? bitte", r"nehmen wir",
    r"on fait (?:ca|comme ca)", r"^go", r"je signe", r"devis signe", r"c'est regle", r"d'acc", r"dac",
    r"ok pour (?:moi|nous)", r"adjuge",
    r"(?:can|could) work with (?:that|this)", r"(?:that'?s|it'?s) doable", r"i can do that", r"we can do that",
    r"puedo hacerlo", r"se puede", r"da sim", r"consigo sim", r"kriegen wir hin", r"machbar",
    r"c'est faisable", r"je peux faire ca", r"let'?s do (?:it|this|that)", r"(?:i'?ll|we'?ll|i want to|i'?d like to) book",
    r"i'?ll (?:get|have|grab) (?:it|one|the|that|them)", r"i want (?:it|the|that|one|them)", r"i'?d like the",
    r"lo compro", r"me lo llevo", r"quiero (?:el|la|los|las|ese|esa)", r"vou querer", r"eu quero (?:o|a|esse|essa)",
    r"vou levar", r"ich hatte gern", r"ich mochte (?:das|die|den)", r"je veux (?:bien|le|la|les)",
    r"je voudrais (?:le|la|les)", r"je vais prendre", r"marca(?:r)? pra", r"agenda pra mim",
)
ACCEPT_WEAK = _rx(
    r"ok+", r"okay", r"k+", r"yes+", r"yep", r"yeah", r"yup", r"(?<!not )sure", r"great", r"perfect",
    r"cool", r"sweet", r"awesome", r"amazing", r"lovely", r"fine", r"fair", r"alright", r"all right", r"legend",
    r"nice", r"brilliant", r"excellent", r"wonderful", r"fantastic", r"righto", r"super", r"genial", r"perfecto",
    r"estupendo", r"vale", r"venga", r"bueno", r"claro", r"dale", r"listo", r"beleza", r"^show", r"^top",
    r"otimo", r"perfeito", r"sim", r"oba", r"massa", r"gut", r"prima", r"toll", r"klasse", r"perfekt",
    r"parfait", r"nickel", r"oui", r"impeccable", r"tres bien", r"🙏", r"🥳", r"✔️", r"☑️",
    r"^si(?=\s*[,.!]|\s*$)", r"^ja(?=\s*[,.!]|\s*$)", r"ok(?:ie|ey|i)", r"yea", r"^good(?! (?:morning|afternoon|evening|night|luck|question))", r"^va", r"^sale",
    r"buenisimo", r"excelente", r"ta certo", r"certo", r"demorou", r"blz", r"maravilha", r"sehr schon", r"wunderbar",
    r"spitze", r"impec", r"au top", r"volontiers", r"can do", r"happy to", r"let'?s do", r"pas de souci", r"avec plaisir", r"tranquilo",
    r"gerne", r"klar", r"no problem", r"sounds? good", r"works", r"done", r"thanks?,? (?:that|this) works", r"👍", r"🙌", r"👌", r"💯", r"✅", r"💸", r"🔥",
)
PAYMENT = _rx(
    r"paid", r"(?:just )?sent(?: you)?(?: the| it)?", r"sending (?:it |the |now)", r"paying(?: now| by| via| with)?",
    r"(?:i'?ll|i will|will|gonna) (?:pay|transfer)", r"pay(?:ing)? now", r"transferred", r"transferring", r"buying now", r"bought",
    r"bizum", r"pago ahora", r"transferencia", r"(?:mando|mandei|vou mandar|fiz) o pix", r"pix (?:feito|enviado)",
    r"paguei", r"vou pagar", r"bezahle", r"bezahlt", r"uberweisung", r"uberweise", r"ich zahle", r"je paie",
    r"virement", r"je vous paie", r"je te paie", r"(?:venmo|zelle|paypal|cashapp|revolut)'?d", r"sent (?:the )?(?:money|payment)",
    r"(?:mandei|enviei) o pix", r"hice la transferencia", r"ya te pague", r"uberwiesen", r"j'ai (?:paye|vire|envoye)",
    r"(?:money|payment|transfer)(?: is|'s)? on (?:its|the) way", r"e-?transfer", r"sending (?:payment|the payment|money|you)", r"te pague", r"pago (?:hecho|realizado)",
    r"pagamento (?:feito|enviado)", r"geld ist unterwegs", r"paiement (?:envoye|effectue)", r"paye",
)
SAME_TERMS = _rx(r"same (?:rate|price) as (?:always|usual|before)", r"usual rate", r"como siempre",
                 r"de sempre", r"wie immer", r"comme d'habitude", r"pay the \w+ fee", r"(?:pay|transfer) after")
DECLINE = _rx(
    r"too (?:expensive|pricey)", r"too much for (?:me|us)", r"out(?:side)? of (?:my|our) (?:price )?(?:range|budget)",
    r"(?:way|well|far) above what", r"above what we can", r"can'?t afford", r"(?:i'?ll|we'?ll) (?:have to )?pass",
    r"(?:have|need) to pass", r"no thanks", r"no thank you", r"not interested", r"forget it", r"never ?mind",
    r"skip it", r"not for (?:me|us)", r"go(?:ing)? with (?:another|someone else|a different)", r"went with",
    r"decided (?:not|against|to go with)", r"(?:won'?t|not) be moving forward", r"(?:have|need) to decline",
    r"(?:i|we) (?:must )?decline", r"can'?t take (?:it|this|that|the job|the project)(?: on)?", r"can'?t take on", r"fully booked", r"thanks? (?:you )?anyway",
    r"good luck", r"maybe next time", r"call(?:ing)? it off", r"cancel+(?:ed|ing)?", r"changed (?:my|our) mind",
    r"no longer (?:need|interested|want)", r"no deal", r"won'?t work for (?:me|us)",
    r"(?:do|doing) it (?:ourselves|myself)", r"hacerlo (?:yo|nosotros) mism[oa]s?", r"fazer (?:eu|nos) mesm[oa]s?",
    r"(?:es|das) selbst machen", r"le faire (?:nous|moi)-memes?",
    r"(?:not|isn'?t) in (?:our|my|the) budget", r"beyond (?:our|my) budget", r"out of (?:our|my) reach", r"can'?t justify",
    r"(?:doesn'?t|does not|won'?t) work for (?:me|us)", r"look(?:ing)? elsewhere", r"found someone(?: else)?",
    r"(?:another|a different) direction", r"hold off", r"on hold", r"not (?:going|go) ahead", r"won'?t go ahead",
    r"not (?:proceed|proceeding)", r"gonna skip", r"(?:i|we) think (?:i|we)'?ll skip", r"not worth it", r"count me out",
    r"^(?:nah|nope|no thx)", r"not this time", r"have to say no", r"gonna pass", r"i'?m out", r"can'?t swing",
    r"no can do", r"forget about it", r"someone else", r"maybe another time", r"not at that price",
    r"another (?:route|option)", r"other options", r"postpone indefinitely", r"budget (?:got|was|has been) cut",
    r"es demasiado", r"no me da (?:el )?(?:presupuesto|para)", r"prefiero dejarlo", r"ta fora", r"nao posso pagar",
    r"procurar outr[oa]", r"verzichten", r"jemanden gefunden", r"kommt nicht in frage", r"leider nein", r"stornieren",
    r"ca fait trop", r"ailleurs", r"pas cette fois",
    r"(?:don'?t|do not|can'?t|won'?t) (?:do|work|take on|accept) (?:\w+ )?(?:unpaid|free|for free|for exposure)",
    r"no (?:hago|trabajo|acepto) (?:\w+ )?(?:gratis|sin cobrar)", r"nao (?:faco|trabalho|aceito) (?:\w+ )?de graca",
    r"(?:arbeite|mache) (?:\w+ )?nicht (?:umsonst|kostenlos|gratis)", r"ne (?:travaille|fais) pas (?:\w+ )?gratuit\w*",
    r"no (?:me|nos) (?:cuadra|convence|sirve|interesa)", r"no,? gracias", r"otra (?:vez|ocasion) sera",
    r"(?:hemos )?encontr\w+ (?:a )?otra persona", r"no (?:esta|entra) en (?:nuestro|mi) presupuesto",
    r"no va a poder ser", r"al final no", r"mejor lo dejamos",
    r"nao (?:rola|da(?! pra| para)|vai rolar|vai dar|quero mais|cabe)", r"deixa pra proxima", r"achei outr[oa]",
    r"encontrei outr[oa]", r"(?:vamos )?fechar com outr[oa]", r"sem condicoes", r"desisti", r"vou deixar (?:pra|para) (?:la|depois|outra)",
    r"passt (?:\w+ )?(?:\w+ )?nicht", r"nicht im budget", r"(?:ubersteigt|sprengt) (?:\w+ )?budget",
    r"wird nichts", r"doch nicht", r"(?:einen )?anderen anbieter", r"jemand anderen", r"kein bedarf",
    r"(?:ca ne va|ce ne sera) pas (?:etre )?possible", r"pas possible", r"quelqu'un d'autre",
    r"au-dessus de nos moyens", r"pas dans (?:notre|mon) budget", r"hors de prix", r"(?:on|je) renonce",
    r"finalement non", r"ne (?:me|nous) (?:va|convient) pas",
    r"(?:muy|demasiado) caro", r"se (?:nos|me) (?:va|escapa|sale|pasa) de(?:l)? (?:\w+ )?presupuesto", r"fuera de (?:mi|nuestro) presupuesto",
    r"no (?:me|nos) (?:lo )?(?:puedo|podemos) permitir", r"(?:nada,?|yo) paso", r"^paso(?=\s*[.!,]|$)",
    r"lo dejamos", r"no puedo asumir", r"no (?:me|nos) interesa", r"(?:ha|han|hemos) cancelado", r"cancelamos",
    r"al final no", r"gracias igualmente", r"no puedo aceptar", r"mejor no",
    r"caro demais", r"muito caro", r"(?:bem |muito )?acima do (?:que|meu|nosso)", r"fora do (?:meu|nosso) orcamento",
    r"(?:entao|ai) deixa", r"deixa pra la", r"deixa quieto", r"nao consigo aceitar", r"desist(?:o|imos)",
    r"vou passar", r"cancel(?:ar|ado|amos|ou)", r"obrigad[oa] mesmo assim", r"fica pra proxima", r"nao tenho interesse",
    r"zu teuer", r"lass(?:en)? (?:ich|wir)'?s", r"nicht leisten", r"kein interesse", r"fur (?:eine|einen) andere[nm]?",
    r"andere[nm]? \w+ entschieden", r"kann ich leider nicht", r"leider nicht (?:arbeiten|annehmen|machen)",
    r"(?:muss|mussen) (?:leider )?absagen", r"abgesagt", r"storniert", r"trotzdem danke", r"danke trotzdem",
    r"nein danke", r"ausgebucht",
    r"trop cher", r"hors (?:de )?(?:notre |mon )?budget", r"tant pis", r"(?:donnera|donnerons|donner) pas suite",
    r"laisse tomber", r"je passe", r"passer (?:notre|mon) tour", r"non merci", r"pas pour (?:moi|nous)", r"annul(?:e|er|ons)",
    r"(?:un|une) autre (?:photographe|prestataire|artiste|groupe)", r"merci quand meme", r"je ne peux pas accepter",
    r"reporte sine die", r"pas interesse",
)
REFUSAL = _rx(  # turns a counter down; with a new number it is a counter, without one a decline
    r"can'?t go (?:that|so|any) low(?:er)?", r"(?:that'?s )?too low", r"below my (?:rate|minimum)", r"my floor",
    r"(?:the )?lowest", r"minimum", r"best i can do", r"no puedo bajar", r"(?:el|mi) minimo", r"infelizmente nao",
    r"o minimo", r"geht nichts", r"letzter preis", r"je ne peux pas descendre", r"mon minimum", r"dernier prix",
    r"i can'?t do that",
)
PUSHBACK = _rx(
    r"negotiable", r"negociable", r"negociavel", r"verhandelbar", r"(?:any|some) flexibility", r"flexib(?:le|el)",
    r"(?:best|lowest|better) price", r"discount", r"descuento", r"desconto", r"rabatt", r"remise", r"cheaper",
    r"come down", r"waive", r"(?:too|a bit|bit|little) (?:high|much|steep|pricey)", r"steep",
    r"over (?:my|our) budget", r"mates rates", r"payment plan", r"instal+ments?",
    r"(?:pay|split) (?:it )?in (?:two|three|2|3|parts)", r"parcelar", r"parcelado", r"plazos", r"en (?:dos|tres) pagos",
    r"en (?:deux|trois|plusieurs) fois", r"raten(?:zahlung)?", r"(?:un poco|bit) justo", r"what if", r"y si",
    r"e se", r"und wenn", r"et si", r"(?:can you|could you) (?:also )?include", r"throw in", r"any chance",
    r"meet (?:me )?in the middle", r"in der mitte", r"jouable", r"reduce (?:the )?scope",
    r"(?:exceeds|depasse|supera|excede|uber) (?:our|my|notre|mon|nuestro|mi|nosso|meu|unser\w*|mein\w*) budget",
    r"(?:ta|esta|muito) (?:puxado|salgado)", r"wiggle room", r"room to negotiate", r"margen", r"margem", r"spielraum",
    r"marge", r"best you can do", r"(?:un|um|einen) (?:precio|preco|besseren preis) (?:mejor|melhor)",
    r"un meilleur prix", r"negotiate", r"negociar", r"verhandeln", r"negocier", r"hacer precio", r"fazer um preco",
    r"(?:tight|limited) budget", r"budget is tight", r"presupuesto ajustado", r"orcamento apertado", r"knappes budget",
    r"budget serre", r"cheaper option", r"zu hoch", r"trop eleve", r"un peu cher", r"bit (?:expensive|pricey)",
    r"(?:algo|un poco) caro", r"meio caro", r"etwas teuer", r"(?:do|make) it (?:for )?less", r"mas barato",
    r"mais barato", r"gunstiger", r"moins cher", r"rebaja", r"baixar", r"nachlass", r"geste",
)
INQUIRY = _rx(
    r"how much", r"rates?", r"prices?", r"pricing", r"costs?", r"quotes?", r"charges?", r"hourly", r"fees?",
    r"what'?s the damage", r"taking (?:commissions|clients|bookings|orders)", r"still available",
    r"cuanto", r"precios?", r"tarifas?", r"cobras", r"cuesta", r"presupuestos?", r"quanto", r"valor(?:es)?",
    r"precos?", r"custa", r"cobra", r"orcamentos?", r"was kostet", r"wie ?viel", r"preise?", r"kosten", r"kostet",
    r"verlangst", r"was nimmst",
    r"combien", r"tarifs?", r"prix", r"coute", r"devis",
    r"available", r"availability", r"are you free", r"free on", r"do you (?:do|offer|ship|deliver|have)",
    r"(?:commissions|you) open", r"slot", r"can i book", r"disponib(?:le|ilidad|ilidade)", r"hueco",
    r"(?:voce|vc) (?:tem|atende)", r"tem agenda", r"agenda em", r"noch zeit", r"noch frei", r"verfugbar", r"dispo",
    r"creneau", r"livrez", r"ship to",
)
CONFIRM_QUESTION = _rx(r"right\s*\?", r"correct\s*\?", r"is that right", r"i see (?:it'?s|that|you)",
                       r"(?:it|that) says", r"listed", r"on your (?:site|website|page|profile)", r"e isso\s*\?",
                       r"verdad\s*\?", r"cierto\s*\?", r"stimmt (?:das|es)", r"richtig\s*\?", r"c'est bien ca")
REFERENCE_QUOTE = _rx(r"you quoted", r"your quote", r"quoted (?:us|me)", r"sigue en pie", r"still (?:valid|on|stand)",
                      r"votre devis", r"das angebot", r"following up on")
OFFER_CUE = _rx(
    r"(?:could|can|would|will) (?:you|u) (?:do|take|accept|go|make)", r"i'?ll give", r"(?:i|we) (?:can|could) (?:do|pay|offer|go)",
    r"(?:i'?ve|we'?ve|i have|we have) got", r"(?:my|our) (?:max|cap|budget|limit)", r"thinking closer to",
    r"how about", r"(?:me )?(?:haces|harias|dejas)", r"te doy", r"podrias", r"tengo un presupuesto", r"rondaria",
    r"faz(?:er)? por", r"consigo pagar", r"te pago", r"sai por", r"machst du", r"geht auch", r"ware \S+ (?:€ )?moglich",
    r"konnen wir uns", r"wir hatten", r"tu peux faire", r"tu fais", r"on a \S+ (?:€ )?de budget", r"notre grille",
)
THANKS = _rx(r"thanks?(?: you)?", r"thx", r"ty", r"gracias", r"obrigad[oa]", r"valeu", r"danke", r"merci")
HOLD = _rx(r"let me (?:think|check|look|see|talk|ask)", r"get back to you", r"think (?:about )?it(?: over)?",
           r"(?:talk|check|speak) (?:to|with) my", r"ask my", r"need to (?:ask|check|think)", r"(?:i'?ll|will) let you know",
           r"vou pensar", r"te falo", r"vou ver", r"vou falar com", r"te aviso", r"lo pienso", r"me lo pienso",
           r"lo consulto", r"lo hablo con", r"te digo algo", r"ich uberlege", r"melde mich", r"sag dir bescheid",
           r"muss (?:noch )?(?:fragen|uberlegen|schauen)", r"je reflechis", r"je vous redis", r"je reviens vers vous",
           r"je vous tiens au courant", r"je dois en parler")
INSTALLMENT_BEFORE = re.compile(
    r"(?:payments?|instal+ments?|deposit|down payment|plazos?|cuotas?|parcelas?|\d\s?x|vezes|sinal|entrada|"
    r"anticipo|adelanto|fois|acompte|arrhes|raten|anzahlung)\b[^.?!$€£]{0,20}$")
INSTALLMENT_AFTER = re.compile(
    r"\s*(?:\w+\s+)?(?:deposit|upfront|down payment|de entrada|de sinal|d'acompte|d'arrhes|anzahlung|de anticipo|"
    r"por adelantado|a cuenta)\b")
REFERENCE_BEFORE = re.compile(
    r"(?:normally|usually|regularly|normalmente|normalerweise|d'habitude|habituellement|instead of|en lugar de|"
    r"en vez de|em vez de|statt|au lieu de|roughly|approx(?:imately)?|aprox(?:imadamente)?|environ|etwa|"
    r"cerca de)\W{0,3}\S{0,3}$")
_STOPWORDS = {
    "en": "the you your and is for it can to of my i a do that this what with are have me we be",
    "es": "el la de que y los las por para con es una tu te me lo se mi pero como del muy hola gracias",
    "pt": "o a de que e os as por para com um uma voce pra nao do da no na fica obrigado obrigada",
    "de": "der die das und ist ich du wir nicht mit fur ein eine den dem auch noch danke bitte kann",
    "fr": "le la les de et est je tu vous nous pour un une pas que avec ce c'est ca merci bonjour",
}
STOPWORDS = {lang: set(words.split()) for lang, words in _STOPWORDS.items()}


@dataclass(frozen=True)
class Cues:
    """The sales moves a message's wording shows."""

    accept_strong: bool
    accept_weak: bool
    payment: bool
    same_terms: bool
    decline: bool
    refusal: bool
    pushback: bool
    inquiry: bool
    confirm_question: bool
    reference_quote: bool
    hold: bool
    thanks: bool
    question: bool  # asks something other than when/where (logistics questions keep an "ok" an acceptance)


_NEGATION_BEFORE = re.compile(r"(?:\bnot|\bno|n't|\bnao|\bnicht|\bkein\w*|\bne|\bnunca|\bnever)\s+(?:\w+\s+)?$")
_NEGATION_AFTER = re.compile(r"^\s*(?:\w+\s+){0,2}(?:nicht|pas)\b")
_LOGISTICS_QUESTION = _rx(r"when", r"where", r"what time", r"which day", r"address", r"cuando", r"donde", r"a que hora",
                          r"quando", r"onde", r"que horas", r"wann", r"wo", r"um wie viel uhr", r"quand",
                          r"a quelle heure")


def _affirms(rx: re.Pattern[str], folded: str) -> tuple[bool, bool]:
    """(affirmed, negated): "me cuadra" affirms, "no me cuadra" / "passt leider nicht" negate."""
    affirmed = negated = False
    for match in rx.finditer(folded):
        before, after = folded[max(0, match.start() - 14):match.start()], folded[match.end():match.end() + 24]
        if _NEGATION_BEFORE.search(before) or _NEGATION_AFTER.search(after):
            negated = True
        else:
            affirmed = True
    return affirmed, negated


def read_cues(text: str) -> Cues:
    folded = fold_same_length(text)
    strong, strong_negated = _affirms(ACCEPT_STRONG, folded)
    weak, _ = _affirms(ACCEPT_WEAK, folded)
    found = {name: bool(rx.search(folded)) for name, rx in (
        ("payment", PAYMENT), ("same_terms", SAME_TERMS), ("decline", DECLINE), ("refusal", REFUSAL),
        ("pushback", PUSHBACK), ("inquiry", INQUIRY), ("confirm_question", CONFIRM_QUESTION),
        ("reference_quote", REFERENCE_QUOTE), ("hold", HOLD), ("thanks", THANKS))}
    found["decline"] = found["decline"] or (strong_negated and not strong)
    question = "?" in text and not _LOGISTICS_QUESTION.search(folded)
    return Cues(accept_strong=strong, accept_weak=weak, **found, question=question)


def guess_language(texts: list[str]) -> str:
    """The language whose stopwords occur most often, English on a tie or no evidence."""
    words = re.findall(r"[\w']+", fold_same_length(" ".join(texts)))
    scores = {lang: sum(w in stop for w in words) for lang, stop in STOPWORDS.items()}
    best = max(scores, key=lambda lang: (scores[lang], lang == "en"))
    return best if scores[best] > 0 else "en"
