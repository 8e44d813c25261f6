"""Generate gold preference pairs for the policy judge suite: 60 pairs of answers to policy QA.

The judge suite asks a judge model which of two answers to a customer's question about the
example shop (Lodos Market) is better. Before its verdicts count, the judge itself is measured
on these gold pairs, whose better answer is known: its agreement with the gold preference, and
its position consistency (the preferred answer is `a` in half of the pairs and `b` in the other
half, so a judge that always picks one position scores about 50 %). The rubric the gold follows:

    A better answer states the correct fact from the shop's policy (the exact number with its
    unit, name, time or e-mail address), answers in the language of the question, and is one
    short, polite sentence. A wrong or missing fact always loses to a correct one; between two
    correct answers, the shorter, clearer and more polite one wins.

Each pair takes a question of `suites/data/policy_qa.jsonl` (36 English, 24 Turkish, spread over
the topics; the ones in SENTENCES) and one of four kinds, 15 pairs each:

    wrong_fact      the correct fact against a wrong one of the same type in the same sentence:
                    another question's answer (of the numbers and times, one of the three
                    closest to the right one; of the e-mail addresses and names, any)
    non_answer      the correct fact against an evasive reply that gives no fact
    wrong_language  the correct fact in the question's language against the same sentence in
                    the other language
    style           two correct answers: the short sentence against the same sentence made rude
                    or long and rambling (half each)

The correct fact is an accepted answer of the question (its first form of the fact's type,
rendered in the sentence's language) inside a hand-written sentence. The script checks what it
writes with the suite's own `contains` matching (case, punctuation and whitespace normalised,
whole words): the preferred answer of every pair contains an accepted answer, and so does the
loser of `wrong_language` and `style`; the loser of `wrong_fact` and `non_answer` contains none.
Output fields: id, question, a, b, preferred ("a" | "b"), why (a short English phrase).

Usage: python scripts/make_judge_gold.py [--check]   (--check: verify the committed file, write
                                                       nothing)
"""

from __future__ import annotations

import argparse
import collections
import json
import random
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_policy_qa import occurs, write_or_check  # a sibling script

ROOT = Path(__file__).resolve().parents[1]
QA = ROOT / "suites" / "data" / "policy_qa.jsonl"
OUT = ROOT / "suites" / "data" / "policy_judge_gold.jsonl"

SEED = 20250702
KINDS = ("wrong_fact", "non_answer", "wrong_language", "style")
N_ENGLISH = 36
N_TURKISH = 24

# --- matching: the suite's `contains` (make_policy_qa.py's normalize and occurs) ---------------


def contains_answer(text: str, answers: list[str]) -> bool:
    return any(occurs(answer, text) for answer in answers)


# --- facts: the type and value of a question's answer, rendered in either language -----------
# (type, pattern on an accepted answer); the first pattern matching an answer gives its type.
FACT_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    (kind, re.compile(pattern)) for kind, pattern in [
        ("business_days", r"(\d+) business days?"),
        ("days", r"(\d+) days?"),
        ("hours", r"(\d+) hours?"),
        ("months", r"(\d+) months?"),
        ("years", r"(\d+) years?"),
        ("try", r"(\d+) TRY"),
        ("eur", r"(\d+) EUR"),
        ("points", r"(\d+) points"),
        ("kg", r"(\d+) kg"),
        ("clock", r"(\d\d):(\d\d)"),
        ("date", r"(\d+) (January|February|March)"),
        ("email", r"[a-z.-]+@[a-z0-9.-]+"),
        ("person", r"Selin Aydemir|Deniz Kaya|Merve Çelebi|Ece Tunalı|Aylin Koç|Hakan Öztürk"),
    ]
]
TR_MONTHS = {"January": "Ocak", "February": "Şubat", "March": "Mart"}

Fact = tuple[str, tuple[str, ...]]      # (type, the pattern's groups or the whole match)


def parse_fact(answers: list[str]) -> Fact | None:
    for answer in answers:
        for kind, pattern in FACT_PATTERNS:
            match = pattern.fullmatch(answer)
            if match:
                return kind, match.groups() or (match.group(),)
    return None


def _count(n: str, singular: str, plural: str) -> str:
    return f"{n} {singular if n == '1' else plural}"


def render(fact: Fact, lang: str) -> str:
    """'14 days' / '14 gün', '2,500 TRY' / '2.500 TL', '15:30', '31 January' / '31 Ocak', ..."""
    kind, value = fact
    n = value[0]
    en = lang == "en"
    if kind == "business_days":
        return _count(n, "business day", "business days") if en else f"{n} iş günü"
    if kind == "days":
        return _count(n, "day", "days") if en else f"{n} gün"
    if kind == "hours":
        return _count(n, "hour", "hours") if en else f"{n} saat"
    if kind == "months":
        return _count(n, "month", "months") if en else f"{n} ay"
    if kind == "years":
        return _count(n, "year", "years") if en else f"{n} yıl"
    if kind == "try":
        return f"{int(n):,} TRY" if en else f"{int(n):,} TL".replace(",", ".")
    if kind == "eur":
        return f"{n} EUR" if en else f"{n} euro"
    if kind == "points":
        return f"{n} points" if en else f"{n} puan"
    if kind == "kg":
        return f"{n} kg"
    if kind == "clock":
        return f"{value[0]}:{value[1]}"
    if kind == "date":
        return f"{n} {value[1]}" if en else f"{n} {TR_MONTHS[value[1]]}"
    return n                                                    # e-mail address, person


def distance(a: Fact, b: Fact) -> int:
    """How far apart two numeric values of one type are (clock times in minutes)."""
    if a[0] == "clock":
        return abs(int(a[1][0]) * 60 + int(a[1][1]) - int(b[1][0]) * 60 - int(b[1][1]))
    return abs(int(a[1][0]) - int(b[1][0]))


# --- the answers ------------------------------------------------------------------------------
# question id -> (what the fact is, for `why`; the answer in English; in Turkish). {fact} is
# where the fact goes; the question's language decides which sentence is the right one.
SENTENCES: dict[str, tuple[str, str, str]] = {
    # English questions (36)
    "pq-001": ("return window for shoes",
               "Shoes can be returned within {fact} of delivery.",
               "Ayakkabıları teslimattan itibaren {fact} içinde iade edebilirsiniz."),
    "pq-002": ("return window for headphones",
               "Headphones can be returned within {fact} of delivery.",
               "Kulaklıkları teslimattan itibaren {fact} içinde iade edebilirsiniz."),
    "pq-005": ("return window for cosmetics",
               "Unopened cosmetics can be returned within {fact} of delivery.",
               ("Ambalajı açılmamış kozmetik ürünlerini teslimattan itibaren {fact} içinde iade "
                "edebilirsiniz.")),
    "pq-008": ("price of the EU return label",
               "The prepaid return label for customers in the European Union costs {fact}.",
               "Avrupa Birliği'ndeki müşterilerimiz ön ödemeli iade etiketi için {fact} öder."),
    "pq-010": ("deadline for reporting a broken product",
               "A product that arrived broken must be reported within {fact} of delivery.",
               "Kırık gelen bir ürünü teslimattan sonra {fact} içinde bildirmeniz gerekir."),
    "pq-012": ("dispatch time of a replacement",
               "Once your damage claim is approved, the replacement is dispatched within {fact}.",
               "Hasar başvurunuz onaylandıktan sonra yeni ürün {fact} içinde kargoya verilir."),
    "pq-013": ("refund time for a single-payment credit card",
               "A refund to a credit card paid in a single payment takes {fact}.",
               "Tek çekimle ödenen kredi kartı siparişlerinde para iadesi {fact} içinde yapılır."),
    "pq-014": ("refund time for a debit card",
               "A refund to a debit card takes {fact}.",
               "Banka kartına para iadesi {fact} içinde yapılır."),
    "pq-017": ("refund time for the Lodos Wallet",
               "A refund to your Lodos Wallet takes {fact}.",
               "Lodos Wallet'a para iadesi {fact} içinde yapılır."),
    "pq-021": ("e-mail address for missing refunds",
               "Please write to {fact} about a refund that has not arrived.",
               "Ulaşmayan para iadeleri için lütfen {fact} adresine yazın."),
    "pq-022": ("head of the payments team",
               "Our payments team is headed by {fact}.",
               "Ödeme ekibimizi {fact} yönetiyor."),
    "pq-023": ("standard shipping fee to the rest of Turkey",
               "Standard shipping to the rest of Turkey costs {fact}.",
               "İzmir dışındaki illere standart kargo için {fact} ödersiniz."),
    "pq-024": ("free-shipping threshold within İzmir",
               "Shipping within the İzmir province is free from {fact}.",
               "İzmir içinde {fact} ve üzeri siparişlerde kargo ücretsizdir."),
    "pq-026": ("standard shipping fee to Switzerland",
               "Standard shipping to Switzerland costs {fact}.",
               "İsviçre'ye standart kargo için {fact} ödersiniz."),
    "pq-028": ("cut-off time for next-day express delivery",
               "The cut-off time for next-day express delivery is {fact} on business days.",
               "Ertesi gün ekspres teslimat için iş günlerinde son sipariş saati {fact}."),
    "pq-030": ("cut-off time for Saturday delivery",
               "The cut-off time for Saturday delivery is {fact} on Friday.",
               "Cumartesi teslimatı için son sipariş saati cuma günü {fact}."),
    "pq-033": ("time a branch keeps an undelivered parcel",
               "After two failed delivery attempts, the branch keeps your parcel for {fact}.",
               "İki teslimat denemesi de başarısız olursa paketiniz şubede {fact} bekletilir."),
    "pq-034": ("first-response time for urgent tickets",
               "The first response to an urgent ticket comes within {fact}, day and night.",
               "Acil taleplere ilk yanıt gece gündüz {fact} içinde verilir."),
    "pq-036": ("first-response time for normal-priority tickets",
               "The first response to a normal-priority ticket comes within {fact}.",
               "Normal öncelikli taleplere ilk yanıt {fact} içinde verilir."),
    "pq-040": ("closing time of the live chat",
               "The live chat closes at {fact} every day.",
               "Canlı sohbetin kapanış saati her gün {fact}."),
    "pq-041": ("Saturday opening time of the phone line",
               "On Saturdays the phone line opens at {fact}.",
               "Telefon hattının cumartesi günleri açılış saati {fact}."),
    "pq-043": ("person who handles escalated tickets",
               "Escalated tickets are handled by {fact}.",
               "Üst birime aktarılan talepleri {fact} ele alıyor."),
    "pq-044": ("customer support e-mail address",
               "You can reach customer support at {fact}.",
               "Müşteri hizmetlerimize {fact} adresinden ulaşabilirsiniz."),
    "pq-045": ("laptop warranty",
               "The warranty for a laptop lasts {fact}.",
               "Dizüstü bilgisayarlar {fact} garantilidir."),
    "pq-047": ("Poyraz toaster warranty",
               "The warranty for a Poyraz toaster lasts {fact}.",
               "Poyraz ekmek kızartma makineleri {fact} garantilidir."),
    "pq-049": ("laptop battery warranty",
               "The warranty for a laptop battery lasts {fact}.",
               "Dizüstü bilgisayar bataryalarının garantisi {fact} sürer."),
    "pq-050": ("longest time a warranty repair may take",
               "A warranty repair takes at most {fact}.",
               "Garanti kapsamındaki bir onarım en fazla {fact} sürer."),
    "pq-052": ("excess for an accidental damage claim",
               "The excess for an accidental damage claim under Lodos Plus Protection is {fact}.",
               ("Lodos Plus Protection kapsamındaki kaza hasarı başvurularında {fact} muafiyet "
                "uygulanır.")),
    "pq-055": ("Data Protection Officer",
               "Our Data Protection Officer is {fact}.",
               "Lodos Market'te veri koruma görevlisi olarak {fact} görev yapıyor."),
    "pq-056": ("answer time for a data deletion request",
               "We answer a request to delete your personal data within {fact}.",
               "Kişisel verilerinizin silinmesi talebini {fact} içinde yanıtlıyoruz."),
    "pq-058": ("retention period of invoices",
               "Invoices are kept for {fact} after account deletion.",
               "Faturalar, hesap silindikten sonra {fact} boyunca saklanır."),
    "pq-062": ("price of a second data copy",
               "A second copy of your personal data in the same year costs {fact}.",
               "Aynı yıl içinde kişisel verilerinizin ikinci kopyası için {fact} ücret alınır."),
    "pq-064": ("press contact",
               "Journalists should contact {fact}, our Head of Communications.",
               "Basın mensupları, İletişim Direktörümüz {fact} ile görüşebilir."),
    "pq-066": ("e-mail address for marketplace sellers",
               "To sell your products on our marketplace, please write to {fact}.",
               "Pazaryerimizde ürün satmak için lütfen {fact} adresine yazın."),
    "pq-070": ("highest security bug bounty",
               "The highest reward for reporting a security vulnerability is {fact}.",
               "Bir güvenlik açığını bildirene en fazla {fact} ödül veriyoruz."),
    "pq-071": ("closing date for internship applications",
               "Applications for the summer internship close on {fact}.",
               "Yaz stajı başvuruları her yıl {fact} tarihinde kapanır."),
    # Turkish questions (24)
    "pq-074": ("return window for electronics",
               "Electronics such as smart watches can be returned within {fact} of delivery.",
               ("Akıllı saat gibi elektronik ürünleri teslimattan itibaren {fact} içinde iade "
                "edebilirsiniz.")),
    "pq-076": ("return window for books",
               "Books can be returned within {fact} of delivery.",
               "Kitapları teslimattan itibaren {fact} içinde iade edebilirsiniz."),
    "pq-077": ("last return date for holiday orders",
               "Holiday orders can be returned until {fact} of the following year.",
               "Yılbaşı siparişlerini bir sonraki yılın {fact} gününe kadar iade edebilirsiniz."),
    "pq-078": ("inspection time for returns",
               "Our warehouse inspects a returned product within {fact} of its arrival.",
               "Depomuz iade edilen ürünü ulaştıktan sonra {fact} içinde kontrol eder."),
    "pq-080": ("e-mail address for return questions",
               "You can send your questions about returns to {fact}.",
               "İade sorularınız için {fact} adresine yazabilirsiniz."),
    "pq-082": ("e-mail address for damage photos",
               "Please send the photos of the damaged product to {fact}.",
               "Hasarlı ürünün fotoğraflarını lütfen {fact} adresine gönderin."),
    "pq-083": ("standard shipping fee within İzmir",
               "Standard shipping within İzmir costs {fact}.",
               "İzmir içinde standart kargo için {fact} ödersiniz."),
    "pq-084": ("free-shipping threshold outside İzmir",
               "Shipping to provinces outside İzmir is free from {fact}.",
               "İzmir dışındaki illerde {fact} ve üzeri siparişlerde kargo ücretsizdir."),
    "pq-086": ("standard shipping fee to the EU",
               "Standard shipping to the European Union costs {fact}.",
               "Avrupa Birliği'ne standart kargo için {fact} ödersiniz."),
    "pq-088": ("cut-off time for same-day delivery in İzmir",
               "The cut-off time for same-day delivery in İzmir is {fact} on business days.",
               "İzmir'de aynı gün teslimat için iş günlerinde son sipariş saati {fact}."),
    "pq-092": ("weight limit for express parcels",
               "The weight limit for express delivery is {fact} per parcel.",
               "Ekspres teslimatta paket başına ağırlık sınırı {fact}."),
    "pq-093": ("welcome points",
               "New members receive {fact} as a welcome gift.",
               "Yeni üyelerimize hoş geldin hediyesi olarak {fact} veriyoruz."),
    "pq-094": ("spending needed for the Meltem level",
               "The Meltem level needs {fact} of spending in the last 12 months.",
               "Meltem seviyesi için son 12 ayda {fact} harcama yapmanız gerekir."),
    "pq-097": ("value of 100 points",
               "100 points are worth {fact}.",
               "100 puan {fact} değerindedir."),
    "pq-099": ("validity of points",
               "Points are valid for {fact} from the date you earn them.",
               "Puanlar kazanıldıkları tarihten itibaren {fact} geçerlidir."),
    "pq-101": ("referral points",
               ("When a friend you invite places a first order of at least 250 TRY, you each get "
                "{fact}."),
               ("Davet ettiğiniz arkadaşınız en az 250 TL tutarında ilk siparişini verdiğinde "
                "ikiniz de {fact} kazanırsınız.")),
    "pq-103": ("validity of a gift card",
               "Gift cards are valid for {fact} from the date of purchase.",
               "Hediye kartları satın alındıkları tarihten itibaren {fact} geçerlidir."),
    "pq-104": ("maximum amount of a digital gift card",
               "A digital gift card can be bought for up to {fact}.",
               "Dijital hediye kartı en fazla {fact} tutarında alınabilir."),
    "pq-106": ("fee for replacing a lost physical card",
               "A new card to replace a lost physical gift card costs {fact}.",
               "Kayıp fiziksel kartın yerine verilen yeni kart için {fact} ücret alınır."),
    "pq-110": ("delivery time of corporate gift cards",
               "For corporate orders, the cards are delivered within {fact} of payment approval.",
               ("Kurumsal siparişlerde kartlar ödeme onayından sonra {fact} içinde teslim "
                "edilir.")),
    "pq-113": ("weekday closing time of the stores",
               "On weekdays our stores close at {fact}.",
               "Mağazalarımızın hafta içi kapanış saati {fact}."),
    "pq-114": ("pickup readiness time for in-stock items",
               "Items in the store's stock are ready for pickup within {fact}.",
               "Mağaza stoğunda olan ürünler {fact} içinde teslime hazır olur."),
    "pq-117": ("holding time of a Lodos Dolap locker",
               "A parcel left in a Lodos Dolap locker waits there for {fact}.",
               "Lodos Dolap'a bırakılan paket {fact} boyunca bekler."),
    "pq-119": ("minimum basket for click and collect",
               "Click and collect is available for baskets of {fact} or more.",
               "Gel-al hizmetini {fact} ve üzeri sepetlerde kullanabilirsiniz."),
}

# Evasive replies: polite, plausible, and without the fact.
NON_ANSWERS = {
    "en": ["Please check our website or contact support.",
           "I'm not sure about that, so please ask our customer support team.",
           "Thank you for your question; you can find this information on our website."],
    "tr": ["Lütfen web sitemizi kontrol edin veya müşteri hizmetlerimizle iletişime geçin.",
           "Bu konuda emin değilim, lütfen müşteri hizmetlerimize danışın.",
           "Sorunuz için teşekkürler, bu bilgiyi web sitemizde bulabilirsiniz."],
}

# Correct but worse: {s} is the short answer without its final full stop.
RUDE = {
    "en": ["{s}, obviously; it's in the policy, so read it next time.",
           "{s}, as anyone who had bothered to read the policy would know.",
           "{s}; honestly, this is on our website and you could have looked it up yourself."],
    "tr": ["{s}, zaten politikada açıkça yazıyor, sormadan önce bir okuyun.",
           ("{s}; bunu sitemizde kendiniz de bulabilirdiniz, biraz okumak bu kadar zor olmasa "
            "gerek."),
           "{s}, bu kadar basit bir şeyi sormanıza hiç gerek yoktu."],
}
RAMBLING = {
    "en": [("{s}, although of course every situation is a little different and there are quite "
            "a few details to keep in mind, so you may want to double-check on our website, in "
            "the app or with our support team before you rely on it."),
           ("{s}, or at least that is what the policy says at the moment, and since policies do "
            "change from time to time and there may be exceptions for some products, you might "
            "also want to read the whole page and perhaps ask our support team as well, just to "
            "be completely sure.")],
    "tr": [("{s}, ama tabii ki her durum biraz farklı olabilir, dikkat edilmesi gereken pek çok "
            "ayrıntı var ve kurallar zaman zaman değişebiliyor, bu yüzden karar vermeden önce "
            "bilgileri web sitemizden, uygulamamızdan ya da müşteri hizmetlerimizden bir kez daha "
            "kontrol etmenizi de öneririm."),
           ("{s}, en azından şu anki politikada böyle yazıyor, ancak bazı ürünler için istisnalar "
            "olabileceğini ve politikaların zaman zaman güncellendiğini de unutmamak gerekiyor, o "
            "yüzden içiniz tamamen rahat etsin isterseniz sayfanın tamamını okuyup bir de destek "
            "ekibimize sormanızı tavsiye ederim.")],
}
LANGUAGE_NAMES = {"en": "English", "tr": "Turkish"}
A_LANGUAGE = {"en": "an English", "tr": "a Turkish"}
FLAWS = {"rude": "rude", "rambling": "long and rambling"}


def wrong_fact(rng: random.Random, question: dict, fact: Fact, pool: list[Fact]) -> Fact:
    """Another question's answer of the same type, one of the three closest to the right one,
    that is not an accepted answer of this question in either language."""
    candidates = sorted({other for other in pool if other[0] == fact[0]
                         and not any(contains_answer(render(other, lang), question["answers"])
                                     for lang in ("en", "tr"))})
    if not candidates:
        raise ValueError(f"{question['id']}: no wrong {fact[0]} to choose from")
    if fact[0] in ("email", "person"):                          # no nearer or farther ones
        return rng.choice(candidates)
    candidates.sort(key=lambda other: distance(fact, other))    # stable: ties stay sorted
    return rng.choice(candidates[:3])


def make_pair(rng: random.Random, question: dict, kind: str, flaw: str,
              pool: list[Fact]) -> dict:
    """{preferred, loser, why, kind, language}; `why` names the loser as {loser}. `flaw`
    ("rude" | "rambling") is the loser's, for the kind `style`."""
    lang = question["language"]
    other = "tr" if lang == "en" else "en"
    what, en_sentence, tr_sentence = SENTENCES[question["id"]]
    sentence = {"en": en_sentence, "tr": tr_sentence}
    fact = parse_fact(question["answers"])
    if fact is None:
        raise ValueError(f"{question['id']}: no fact type matches {question['answers'][:3]}")
    right = sentence[lang].format(fact=render(fact, lang))
    if kind == "wrong_fact":
        wrong = wrong_fact(rng, question, fact, pool)
        loser = sentence[lang].format(fact=render(wrong, lang))
        why = (f"{{loser}} gives the wrong {what} ({render(wrong, 'en')} instead of "
               f"{render(fact, 'en')})")
    elif kind == "non_answer":
        loser = rng.choice(NON_ANSWERS[lang])
        why = f"{{loser}} evades the question instead of giving the {what} ({render(fact, 'en')})"
    elif kind == "wrong_language":
        loser = sentence[other].format(fact=render(fact, other))
        why = f"{{loser}} answers {A_LANGUAGE[lang]} question in {LANGUAGE_NAMES[other]}"
    else:
        loser = rng.choice((RUDE if flaw == "rude" else RAMBLING)[lang]).format(s=right[:-1])
        why = f"both give the {what}, but {{loser}} is {FLAWS[flaw]}"
    return {"preferred": right, "loser": loser, "why": why, "kind": kind, "language": lang}


def check(pair: dict, answers: list[str], qid: str) -> list[str]:
    problems = []
    if not contains_answer(pair["preferred"], answers):
        problems.append(f"{qid}: the preferred answer has no accepted answer")
    loser_correct = contains_answer(pair["loser"], answers)
    if loser_correct != (pair["kind"] in ("wrong_language", "style")):
        problems.append(f"{qid}: the {pair['kind']} loser "
                        f"{'contains' if loser_correct else 'lacks'} an accepted answer")
    return problems


def balanced(rng: random.Random, items: tuple[str, ...], n: int, offset: int = 0) -> list[str]:
    """n items cycling through `items` (starting at `offset`), shuffled: exact shares."""
    plan = [items[(offset + i) % len(items)] for i in range(n)]
    rng.shuffle(plan)
    return plan


def build(seed: int = SEED) -> list[dict]:
    """The gold pairs, checked; raises ValueError on any problem."""
    rng = random.Random(f"judge-gold:{seed}")
    questions = {row["id"]: row for row in map(json.loads,
                                                QA.read_text(encoding="utf-8").splitlines())}
    missing = sorted(set(SENTENCES) - set(questions))
    if missing:
        raise ValueError(f"questions not in {QA.name}: {missing}")
    pool = [fact for row in questions.values() if (fact := parse_fact(row["answers"]))]
    chosen = {lang: [questions[qid] for qid in SENTENCES if questions[qid]["language"] == lang]
              for lang in ("en", "tr")}
    if (len(chosen["en"]), len(chosen["tr"])) != (N_ENGLISH, N_TURKISH):
        raise ValueError(f"{len(chosen['en'])} English and {len(chosen['tr'])} Turkish "
                         f"questions, expected {N_ENGLISH} and {N_TURKISH}")

    # Kinds even within each language (and rude/rambling within `style`); the preferred
    # position even within each kind.
    pairs, problems = [], []
    for lang in ("en", "tr"):
        kinds = balanced(rng, KINDS, len(chosen[lang]))
        flaws = balanced(rng, tuple(FLAWS), kinds.count("style"))
        for question, kind in zip(chosen[lang], kinds):
            flaw = flaws.pop() if kind == "style" else ""
            pair = make_pair(rng, question, kind, flaw, pool)
            problems += check(pair, question["answers"], question["id"])
            pairs.append((question, pair))
    if problems:
        raise ValueError("; ".join(problems))
    positions = {kind: balanced(rng, ("a", "b"), sum(p["kind"] == kind for _, p in pairs), i)
                 for i, kind in enumerate(KINDS)}
    rng.shuffle(pairs)

    rows = []
    for number, (question, pair) in enumerate(pairs, start=1):
        preferred = positions[pair["kind"]].pop()
        loser = "b" if preferred == "a" else "a"
        answer = {preferred: pair["preferred"], loser: pair["loser"]}
        rows.append({"id": f"gold-{number:03d}", "question": question["question"],
                     "a": answer["a"], "b": answer["b"], "preferred": preferred,
                     "why": pair["why"].format(loser=loser),
                     "_kind": pair["kind"], "_language": pair["language"]})
    return rows


def render_jsonl(rows: list[dict]) -> str:
    return "".join(json.dumps({k: v for k, v in row.items() if not k.startswith("_")},
                              ensure_ascii=False) + "\n" for row in rows)


def summary(rows: list[dict]) -> str:
    def counts(key: str) -> str:
        return " ".join(f"{k}={v}" for k, v in sorted(collections.Counter(
            row[key] for row in rows).items()))
    return (f"{len(rows)} pairs: kinds {counts('_kind')}; languages {counts('_language')}; "
            f"preferred {counts('preferred')}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="verify that the committed file is up to date; write nothing")
    args = parser.parse_args(argv)
    try:
        rows = build()
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return write_or_check(OUT, render_jsonl(rows), args.check, "scripts/make_judge_gold.py",
                          f"wrote {OUT.relative_to(ROOT)}: {summary(rows)}",
                          up_to_date=f" ({summary(rows)})")

if __name__ == "__main__":
    sys.exit(main())
