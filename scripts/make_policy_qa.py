"""Generate the policy/knowledge QA example suite: 120 questions about a fictional shop's policies.

The shop is "Lodos Market", an online shop based in İzmir. Its policies live in
`docs/policies/*.md` (English and Turkish documents, written for this project), and every
answer is a short, specific fact of one of them (a number with its unit, a name, an e-mail
address, a time) that a model cannot know without reading the document. The suite is meant to
show that retrieval beats a plain prompt: without the documents a model can only guess.

Each question is hand-written below in QUESTIONS as (gold document, topic, question, answers).
The question's language is the gold document's (`*.en.md` / `*.tr.md`); questions paraphrase
the documents rather than copy them. `answers` lists the accepted surface forms of the one
correct answer; the helpers (days, hours, try_, eur, clock, ...) expand a fact into its usual
spellings in both languages, always with the unit, so that a bare number never matches. The
suite's `contains` criterion accepts an output when one form occurs in it as whole words after
normalising case, punctuation and whitespace (the same normalisation `normalize` applies here).

The script checks what it writes: ids and questions are unique, every gold document exists and
contains at least one accepted form of its answer (so each question is answerable from it), and
the language mix is about 60/40. It writes only `suites/data/policy_qa.jsonl`; after a change,
put the file's new sha256 into `suites/policy_qa.yaml`.

Usage: python scripts/make_policy_qa.py [--check]   (--check: verify the committed file, write
                                                      nothing)
"""

from __future__ import annotations

import argparse
import json
import re
import string
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs" / "policies"
OUT = ROOT / "suites" / "data" / "policy_qa.jsonl"

N_QUESTIONS = 120
N_ENGLISH = 72          # 60 % English, 40 % Turkish

# --- normalisation: the same as evalgate.metrics.exact_match.normalize(case, punctuation,
# whitespace); repeated here so that the script needs nothing but the standard library.
_PUNCT_TABLE = str.maketrans("", "", string.punctuation + "“”‘’«»…")
_SPACES = re.compile(r"\s+")


def normalize(text: str) -> str:
    return _SPACES.sub(" ", text.casefold().translate(_PUNCT_TABLE)).strip()


def occurs(needle: str, haystack: str) -> bool:
    """Whole-word occurrence of the normalised needle in the normalised haystack."""
    needle = normalize(needle)
    return bool(needle) and re.search(
        rf"(?<!\w){re.escape(needle)}(?!\w)", normalize(haystack)) is not None


# --- answer forms -------------------------------------------------------------------------

EN_WORDS = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 7: "seven",
            8: "eight", 9: "nine", 10: "ten", 12: "twelve", 14: "fourteen", 15: "fifteen",
            18: "eighteen", 20: "twenty", 21: "twenty-one", 30: "thirty", 45: "forty-five",
            48: "forty-eight", 60: "sixty", 72: "seventy-two"}
TR_WORDS = {1: "bir", 2: "iki", 3: "üç", 4: "dört", 5: "beş", 6: "altı", 7: "yedi",
            8: "sekiz", 9: "dokuz", 10: "on", 12: "on iki", 14: "on dört", 15: "on beş",
            18: "on sekiz", 20: "yirmi", 21: "yirmi bir", 30: "otuz", 45: "kırk beş",
            48: "kırk sekiz", 60: "altmış", 72: "yetmiş iki"}


def _unit(n: int, en_singular: str, en_plural: str, tr_unit: str,
          tr_suffixes: tuple[str, ...] = ()) -> list[str]:
    """'14 days', '14-day', '14 gün', 'fourteen days', ... (the number always with its unit)."""
    en = en_singular if n == 1 else en_plural
    forms = [f"{n} {en}", f"{n}-{en_singular}", f"{n} {en_singular}", f"{n} {tr_unit}"]
    forms += [f"{n} {tr_unit}{suffix}" for suffix in tr_suffixes]
    if n in EN_WORDS:
        forms += [f"{EN_WORDS[n]} {en}", f"{EN_WORDS[n]}-{en_singular}"]
    if n in TR_WORDS:
        forms.append(f"{TR_WORDS[n]} {tr_unit}")
    return forms


def days(n: int) -> list[str]:
    return _unit(n, "day", "days", "gün", ("lük", "de", "dür"))


def business_days(n: int) -> list[str]:
    forms = _unit(n, "business day", "business days", "iş günü", ("nde",))
    forms += _unit(n, "working day", "working days", "iş günü")
    return forms


def hours(n: int) -> list[str]:
    return _unit(n, "hour", "hours", "saat", ("lik", "te"))


def minutes(n: int) -> list[str]:
    return _unit(n, "minute", "minutes", "dakika")


def months(n: int) -> list[str]:
    return _unit(n, "month", "months", "ay", ("lık",))


def years(n: int) -> list[str]:
    return _unit(n, "year", "years", "yıl", ("lık",)) + months(12 * n)


def _thousands(n: int) -> str:
    return f"{n:,}"      # 2,500 (normalises to 2500, like the Turkish 2.500)


def try_(n: int) -> list[str]:
    """Turkish lira: '49 TRY', '49 TL', '₺49', '49 lira', '49 TL'ye', ..."""
    forms = []
    for number in dict.fromkeys([str(n), _thousands(n)]):
        forms += [f"{number} TRY", f"{number} TL", f"₺{number}", f"{number} ₺",
                  f"{number} lira", f"{number} liras", f"{number} Turkish lira",
                  f"{number} Türk lirası", f"TRY {number}", f"TL {number}",
                  f"{number} TL'dir", f"{number} TL'ye", f"{number} TL'den", f"{number} TL'lik"]
    return forms


def eur(n: int) -> list[str]:
    forms = []
    for number in dict.fromkeys([str(n), _thousands(n)]):
        forms += [f"{number} EUR", f"{number} euros", f"{number} euro", f"€{number}",
                  f"{number} €", f"EUR {number}", f"{number} EUR'dur", f"{number} euroluk"]
    return forms


def clock(hh: int, mm: int = 0) -> list[str]:
    """'15:30', '3:30 pm', '15:30'a', ... (the minutes always present, so a bare hour never
    matches; ':' and '.' both normalise away)."""
    base = f"{hh:02d}:{mm:02d}"
    h12 = hh % 12 or 12
    half = "am" if hh < 12 else "pm"
    forms = [base, f"{h12}:{mm:02d} {half}", f"{h12}:{mm:02d}{half}"]
    if mm == 0:
        forms += [f"{h12} {half}", f"{h12}{half}", f"{h12} o'clock {half}"]
    if (hh, mm) == (12, 0):
        forms += ["noon", "midday"]
    if (hh, mm) == (0, 0):
        forms += ["midnight"]
    forms += [f"{base}'{suffix}" for suffix in ("a", "e", "ya", "ye", "da", "de", "ta", "te")]
    return forms


def percent(n: int) -> list[str]:
    # "8 %" normalises to a bare "8", which any number would match: the word is required.
    return [f"{n} percent", f"{n} per cent", f"{n} percentage points", f"yüzde {n}",
            f"{EN_WORDS[n]} percent" if n in EN_WORDS else f"{n} pct"]


def points(n: int) -> list[str]:
    forms = []
    for number in dict.fromkeys([str(n), _thousands(n)]):
        forms += [f"{number} points", f"{number} puan", f"{number} Lodos Points",
                  f"{number} Lodos Puan", f"{number} bonus points"]
    return forms


def kg(n: int) -> list[str]:
    return [f"{n} kg", f"{n}kg", f"{n} kilograms", f"{n} kilos", f"{n} kilogram", f"{n} kilo",
            f"{n} kg'a", f"{n} kg'lık"]


def date(day: int, month_en: str, month_tr: str) -> list[str]:
    suffix = {1: "st", 2: "nd", 3: "rd", 21: "st", 22: "nd", 23: "rd", 31: "st"}.get(day, "th")
    return [f"{day} {month_en}", f"{month_en} {day}", f"{month_en} {day}{suffix}",
            f"{day}{suffix} {month_en}", f"{day}{suffix} of {month_en}", f"{day} {month_tr}",
            f"{month_en[:3]} {day}", f"{day} {month_en[:3]}"]


def name(full: str, *ascii_forms: str) -> list[str]:
    return [full, *ascii_forms]


def email(address: str) -> list[str]:
    return [address]


# --- the questions ------------------------------------------------------------------------
# (gold document, topic, question, answers). Language = the gold document's.

QUESTIONS: list[tuple[str, str, str, list[str]]] = [
    # returns.en.md
    ("returns.en.md", "returns", "How many days is the return window for a pair of shoes?",
     days(30)),
    ("returns.en.md", "returns", "What is the return window for headphones?", days(14)),
    ("returns.en.md", "returns", "How long is the return window for kitchen products?",
     days(21)),
    ("returns.en.md", "returns", "What is the return window for toys?", days(60)),
    ("returns.en.md", "returns", "How many days is the return window for cosmetics?", days(7)),
    ("returns.en.md", "returns", "What is the return window for a washing machine?", days(10)),
    ("returns.en.md", "returns", "Until what date can holiday orders be returned?",
     date(31, "January", "Ocak")),
    ("returns.en.md", "returns",
     "How much does the prepaid return label cost for a customer in the European Union?",
     eur(9)),
    ("returns.en.md", "returns",
     "Within how many business days does the warehouse inspect a returned product?",
     business_days(3)),
    ("returns.en.md", "damaged_items",
     "Within how many hours must I report a product that arrived broken?", hours(48)),
    ("returns.en.md", "damaged_items",
     "How many days do I have to report hidden damage on a large home appliance?", days(5)),
    ("returns.en.md", "damaged_items",
     "How soon is the replacement dispatched once my damage claim is approved?",
     business_days(2)),
    # refunds.en.md
    ("refunds.en.md", "refunds",
     "How long does a refund to a credit card paid in a single payment take?",
     business_days(5)),
    ("refunds.en.md", "refunds", "How long does a refund to my debit card take?",
     business_days(7)),
    ("refunds.en.md", "refunds", "How many business days does a refund for a bank transfer take?",
     business_days(3)),
    ("refunds.en.md", "refunds",
     "After I enter my IBAN, how long does a refund for cash on delivery take?",
     business_days(10)),
    ("refunds.en.md", "refunds", "How fast is a refund to the Lodos Wallet?", hours(2)),
    ("refunds.en.md", "refunds", "How long does a refund to a gift card take?",
     business_days(1)),
    ("refunds.en.md", "refunds",
     "How long can a refund to a credit card paid in instalments take?",
     ["2 statement periods", "two statement periods", "2 statement period"]),
    ("refunds.en.md", "refunds",
     "Which reference number should I give my bank for a missing card refund?",
     ["ARN", "Acquirer Reference Number"]),
    ("refunds.en.md", "refunds", "What is the e-mail address for missing refunds?",
     email("odeme@lodosmarket.com.tr")),
    ("refunds.en.md", "refunds", "Who is the head of the payments team?",
     name("Selin Aydemir")),
    # shipping.en.md
    ("shipping.en.md", "shipping", "How much does standard shipping to the rest of Turkey cost?",
     try_(49)),
    ("shipping.en.md", "shipping", "From what amount is shipping free within the İzmir province?",
     try_(400)),
    ("shipping.en.md", "shipping", "At what order total does free shipping to Northern Cyprus "
     "start?", try_(2500)),
    ("shipping.en.md", "shipping", "What does standard shipping to Switzerland cost?", eur(19)),
    ("shipping.en.md", "shipping", "From what order value is shipping to the European Union free?",
     eur(150)),
    ("shipping.en.md", "shipping", "What is the cut-off time for next-day express delivery?",
     clock(15, 30)),
    ("shipping.en.md", "shipping", "How much does same-day delivery in İzmir cost?", try_(59)),
    ("shipping.en.md", "shipping", "What is the cut-off time for Saturday delivery?", clock(13)),
    ("shipping.en.md", "shipping", "What is the price of express shipping to the European Union?",
     eur(29)),
    ("shipping.en.md", "shipping", "Which carrier delivers parcels to the European Union?",
     ["EuroPak Logistics", "EuroPak", "Euro Pak"]),
    ("shipping.en.md", "shipping",
     "How long does the branch keep my parcel after two failed delivery attempts?",
     business_days(5)),
    # support-sla.en.md
    ("support-sla.en.md", "support", "How quickly does the first response to an urgent ticket "
     "come?", hours(1)),
    ("support-sla.en.md", "support", "When can I expect the first response to a high-priority "
     "ticket?", hours(4)),
    ("support-sla.en.md", "support", "How long until the first response to a normal-priority "
     "ticket?", hours(12)),
    ("support-sla.en.md", "support", "How long may the first response to a low-priority ticket "
     "take?", business_days(2)),
    ("support-sla.en.md", "support", "Within how many hours is an urgent ticket resolved?",
     hours(8)),
    ("support-sla.en.md", "support", "How long does it take to resolve a normal-priority ticket?",
     business_days(3)),
    ("support-sla.en.md", "support", "At what time does the live chat close?", clock(23)),
    ("support-sla.en.md", "support", "At what time does the phone line open on Saturdays?",
     clock(10)),
    ("support-sla.en.md", "support", "What do I receive if you miss the first-response target?",
     points(100)),
    ("support-sla.en.md", "support", "Who handles escalated tickets?", name("Deniz Kaya")),
    ("support-sla.en.md", "support", "What is the e-mail address of customer support?",
     email("destek@lodosmarket.com.tr")),
    # warranty.en.md
    ("warranty.en.md", "warranty", "How long does the warranty for a laptop last?", years(2)),
    ("warranty.en.md", "warranty", "How long is the warranty for a washing machine?", years(3)),
    ("warranty.en.md", "warranty", "How long does the warranty for a Poyraz toaster last?",
     years(4)),
    ("warranty.en.md", "warranty", "How long is the warranty for a sofa frame?", years(10)),
    ("warranty.en.md", "warranty", "How long does the warranty for a laptop battery last?",
     months(6)),
    ("warranty.en.md", "warranty", "How many business days can a warranty repair take at most?",
     business_days(20)),
    ("warranty.en.md", "warranty",
     "How long after the invoice date can Lodos Plus Protection be bought?", days(45)),
    ("warranty.en.md", "warranty",
     "What is the excess for an accidental damage claim under Lodos Plus Protection?",
     try_(500)),
    ("warranty.en.md", "warranty", "What is the e-mail address for warranty claims?",
     email("servis@lodosmarket.com.tr")),
    ("warranty.en.md", "warranty", "Who carries out warranty repairs?",
     ["Lodos Teknik Servis"]),
    # privacy.en.md
    ("privacy.en.md", "privacy", "Who is the Data Protection Officer of Lodos Market?",
     name("Merve Çelebi", "Merve Celebi")),
    ("privacy.en.md", "privacy", "How quickly do you answer a request to delete my personal "
     "data?", days(15)),
    ("privacy.en.md", "privacy", "How long is the confirmation code for deleting my account "
     "valid?", minutes(15)),
    ("privacy.en.md", "privacy", "For how many years are invoices kept after account deletion?",
     years(10)),
    ("privacy.en.md", "privacy", "How long is security camera footage from your stores kept?",
     days(30)),
    ("privacy.en.md", "privacy", "Who is the GDPR representative of Lodos Market in the EU?",
     ["Vanderberg Privacy B.V.", "Vanderberg Privacy", "Vanderberg"]),
    ("privacy.en.md", "privacy", "Which word do I text to stop marketing SMS?", ["RET"]),
    ("privacy.en.md", "privacy",
     "How much does a second copy of my personal data in the same year cost?", try_(50)),
    ("privacy.en.md", "privacy", "Within how many days is my data in the backups overwritten?",
     days(60)),
    # contacts.en.md
    ("contacts.en.md", "contacts", "Who should a journalist contact?",
     name("Ece Tunalı", "Ece Tunali")),
    ("contacts.en.md", "contacts", "Who leads corporate sales?", name("Aylin Koç", "Aylin Koc")),
    ("contacts.en.md", "contacts", "Where do I write to sell my products on the marketplace?",
     email("satici@lodosmarket.com.tr")),
    ("contacts.en.md", "contacts",
     "How long does the review of a new marketplace seller application take?",
     business_days(10)),
    ("contacts.en.md", "contacts", "What is the e-mail address for correcting a wrong invoice?",
     email("fatura@lodosmarket.com.tr")),
    ("contacts.en.md", "contacts", "What is the KEP address for official legal notices?",
     email("lodosmarket@hs01.kep.tr")),
    ("contacts.en.md", "contacts",
     "What is the highest reward for reporting a security vulnerability?", try_(20000)),
    ("contacts.en.md", "contacts", "When do applications for the summer internship close?",
     date(31, "March", "Mart")),
    ("contacts.en.md", "contacts", "Who is the accessibility coordinator?",
     name("Hakan Öztürk", "Hakan Ozturk")),
    # iade.tr.md
    ("iade.tr.md", "returns", "Bir çift ayakkabının iade süresi ne kadar?", days(30)),
    ("iade.tr.md", "returns", "Akıllı saat gibi elektronik ürünler için iade süresi kaç gün?",
     days(14)),
    ("iade.tr.md", "returns", "Bahçe ürünleri için iade süresi ne kadar?", days(21)),
    ("iade.tr.md", "returns", "Kitaplar için iade süresi kaç gün?", days(60)),
    ("iade.tr.md", "returns", "Yılbaşı siparişleri için son iade tarihi nedir?",
     date(31, "January", "Ocak")),
    ("iade.tr.md", "returns", "Depo iade edilen ürünü kaç iş günü içinde kontrol ediyor?",
     business_days(3)),
    ("iade.tr.md", "returns", "İade paketleri için hangi kargo firması kullanılıyor?",
     ["Rüzgar Kargo", "Ruzgar Kargo", "Rüzgar"]),
    ("iade.tr.md", "returns", "İade soruları için e-posta adresi nedir?",
     email("iade@lodosmarket.com.tr")),
    ("iade.tr.md", "damaged_items", "Kırık gelen bir ürün kaç saat içinde bildirilmeli?",
     hours(48)),
    ("iade.tr.md", "damaged_items", "Hasarlı ürünün fotoğraflarını hangi adrese göndermeliyim?",
     email("hasar@lodosmarket.com.tr")),
    # kargo.tr.md
    ("kargo.tr.md", "shipping", "İzmir içinde standart kargo ücreti ne kadar?", try_(29)),
    ("kargo.tr.md", "shipping", "İzmir dışındaki illerde ücretsiz kargo limiti kaç TL?",
     try_(750)),
    ("kargo.tr.md", "shipping", "Kuzey Kıbrıs için standart kargo ne kadar tutuyor?", try_(140)),
    ("kargo.tr.md", "shipping", "Avrupa Birliği için standart kargo ücreti kaç euro?", eur(12)),
    ("kargo.tr.md", "shipping", "İsviçre için ücretsiz kargo limiti ne kadar?", eur(200)),
    ("kargo.tr.md", "shipping", "İzmir'de aynı gün teslimat için son sipariş saati kaç?",
     clock(11)),
    ("kargo.tr.md", "shipping", "Ertesi gün ekspres teslimat ücreti ne kadar?", try_(89)),
    ("kargo.tr.md", "shipping", "Cumartesi teslimatı için ne kadar ödüyorum?", try_(69)),
    ("kargo.tr.md", "shipping", "Avrupa Birliği'ne ekspres gönderim için son sipariş saati "
     "nedir?", clock(12)),
    ("kargo.tr.md", "shipping", "Ekspres teslimatta paket ağırlık sınırı kaç kg?", kg(30)),
    # sadakat.tr.md
    ("sadakat.tr.md", "loyalty", "Yeni üyelere kaç hoş geldin puanı hediye ediliyor?",
     points(150)),
    ("sadakat.tr.md", "loyalty", "Meltem seviyesi için son 12 ayda ne kadar harcama gerekiyor?",
     try_(5000)),
    ("sadakat.tr.md", "loyalty", "Fırtına seviyesi için gereken harcama ne kadar?",
     try_(40000)),
    ("sadakat.tr.md", "loyalty", "Karayel üyesi her 100 TL için kaç puan kazanıyor?",
     points(5)),
    ("sadakat.tr.md", "loyalty", "100 puanın değeri kaç TL?", try_(10)),
    ("sadakat.tr.md", "loyalty", "Puan kullanmak için hesabımda en az kaç puan olmalı?",
     points(500)),
    ("sadakat.tr.md", "loyalty", "Puanların geçerlilik süresi ne kadar?", months(18)),
    ("sadakat.tr.md", "loyalty", "Seviyeler hangi tarihte güncelleniyor?",
     date(1, "February", "Şubat")),
    ("sadakat.tr.md", "loyalty", "Arkadaşımı davet edersem kaç puan alırım?", points(300)),
    ("sadakat.tr.md", "loyalty", "Meltem üyeleri yılda kaç kez ücretsiz ekspres kargo "
     "kullanabiliyor?", ["4 kez", "4 times", "four times", "dört kez", "4 defa", "4 kere",
                         "4 ücretsiz", "4 free"]),
    # hediye-karti.tr.md
    ("hediye-karti.tr.md", "gift_cards", "Hediye kartının geçerlilik süresi ne kadar?",
     years(3)),
    ("hediye-karti.tr.md", "gift_cards", "Dijital hediye kartı en fazla kaç TL olabilir?",
     try_(5000)),
    ("hediye-karti.tr.md", "gift_cards", "Tek bir siparişte en fazla kaç hediye kartı "
     "kullanılabilir?", ["3 hediye kartı", "3 kart", "3 gift cards", "three gift cards",
                         "üç hediye kartı", "en fazla 3", "up to 3", "maximum of 3"]),
    ("hediye-karti.tr.md", "gift_cards", "Kayıp fiziksel kart için yeni kart ücreti ne kadar?",
     try_(25)),
    ("hediye-karti.tr.md", "gift_cards", "Hediye kartıyla öderken kaç haneli PIN giriliyor?",
     ["4 haneli", "4 digit", "4 digits", "four-digit", "four digits", "dört haneli",
      "4 rakamlı"]),
    ("hediye-karti.tr.md", "gift_cards",
     "Kaç adet ve üzeri hediye kartı siparişleri kurumsal satış ekibine gidiyor?",
     ["50 adet", "50 cards", "50 gift cards", "50 hediye kartı", "50 or more", "50 ve üzeri"]),
    ("hediye-karti.tr.md", "gift_cards",
     "Süresi dolmak üzere olan kart için hatırlatma e-postası kaç gün önce geliyor?", days(60)),
    ("hediye-karti.tr.md", "gift_cards", "Kurumsal siparişlerde kartlar kaç iş günü içinde "
     "teslim ediliyor?", business_days(5)),
    ("hediye-karti.tr.md", "gift_cards", "Fiziksel hediye kartının en düşük tutarı ne kadar?",
     try_(250)),
    # magaza-teslim.tr.md
    ("magaza-teslim.tr.md", "store_pickup", "Pazar günü mağazaların açılış saati kaç?",
     clock(11)),
    ("magaza-teslim.tr.md", "store_pickup", "Hafta içi mağazalar saat kaçta kapanıyor?",
     clock(21)),
    ("magaza-teslim.tr.md", "store_pickup", "Mağaza stoğunda olan ürün kaç saatte teslime hazır "
     "olur?", hours(2)),
    ("magaza-teslim.tr.md", "store_pickup", "Hazır olan sipariş mağazada kaç gün bekletiliyor?",
     days(5)),
    ("magaza-teslim.tr.md", "store_pickup", "Teslim kodu kaç haneli?",
     ["6 haneli", "6 digit", "6 digits", "six-digit", "six digits", "altı haneli"]),
    ("magaza-teslim.tr.md", "store_pickup", "Lodos Dolap'a bırakılan paket kaç saat bekliyor?",
     hours(72)),
    ("magaza-teslim.tr.md", "store_pickup", "Lodos Dolap için paket ağırlık sınırı ne kadar?",
     kg(20)),
    ("magaza-teslim.tr.md", "store_pickup", "Gel-al için en düşük sepet tutarı kaç TL?",
     try_(100)),
    ("magaza-teslim.tr.md", "store_pickup", "Bursa'daki gel-al mağazası hangisi?",
     ["Nilüfer", "Nilufer"]),
]


def _dedupe(forms: list[str]) -> list[str]:
    """Keep the first surface form of each normalised answer (the list stays readable)."""
    seen: set[str] = set()
    kept = []
    for form in forms:
        key = normalize(form)
        if key and key not in seen:
            seen.add(key)
            kept.append(form)
    return kept


def build() -> list[dict]:
    """The examples, in QUESTIONS order, checked; raises ValueError on any problem."""
    problems: list[str] = []
    texts: dict[str, str] = {}
    examples = []
    for number, (doc, topic, question, answers) in enumerate(QUESTIONS, start=1):
        language = doc.rsplit(".", 2)[-2]
        if language not in ("en", "tr"):
            problems.append(f"{doc}: name it *.en.md or *.tr.md")
        if doc not in texts:
            path = DOCS / doc
            texts[doc] = path.read_text(encoding="utf-8") if path.is_file() else ""
            if not texts[doc]:
                problems.append(f"{doc}: no such document in {DOCS}")
        answers = _dedupe(answers)
        if texts[doc] and not any(occurs(answer, texts[doc]) for answer in answers):
            problems.append(f"pq-{number:03d}: no answer of {answers[:3]} occurs in {doc}")
        examples.append({"id": f"pq-{number:03d}", "question": question, "answers": answers,
                         "gold_doc": doc, "language": language, "topic": topic})
    questions = [normalize(example["question"]) for example in examples]
    if len(set(questions)) != len(questions):
        problems.append("duplicate questions")
    if len(examples) != N_QUESTIONS:
        problems.append(f"{len(examples)} questions, expected {N_QUESTIONS}")
    english = sum(example["language"] == "en" for example in examples)
    if english != N_ENGLISH:
        problems.append(f"{english} English questions, expected {N_ENGLISH}")
    if problems:
        raise ValueError("; ".join(problems))
    return examples


def render(examples: list[dict]) -> str:
    return "".join(json.dumps(example, ensure_ascii=False) + "\n" for example in examples)


def write_or_check(out: Path, text: str, check: bool, script: str, wrote: str,
                   up_to_date: str = "") -> int:
    """Write a generated file, or with `check` verify the committed one (exit 1 when it is out
    of date): the `--check` contract of the example project's generator scripts."""
    if check:
        current = out.read_text(encoding="utf-8") if out.is_file() else None
        if current != text:
            print(f"{out.relative_to(ROOT)} is out of date: run {script}", file=sys.stderr)
            return 1
        print(f"{out.relative_to(ROOT)} is up to date{up_to_date}")
        return 0
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", encoding="utf-8", newline="\n") as handle:
        handle.write(text)
    print(wrote)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="verify that the committed file is up to date; write nothing")
    args = parser.parse_args(argv)
    try:
        text = render(build())
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return write_or_check(OUT, text, args.check, "scripts/make_policy_qa.py",
                          f"wrote {N_QUESTIONS} questions to {OUT.relative_to(ROOT)}")

if __name__ == "__main__":
    sys.exit(main())
