"""Generate the support-ticket triage example task: 600 training and 200 held-out tickets.

An e-commerce shop receives free-text tickets in English and Turkish (about 60/40). Each ticket
is labelled with one strict JSON object:

    {"intent": ..., "priority": ..., "order_id": "ORD-123456" | null, "language": "en" | "tr"}

The labelling rules are written down once, as data in this file (INTENT_DEFINITIONS,
BASE_PRIORITY, CUES); `baselines/prompt.yaml` states the same rules in words and
`tests/test_triage_data.py` checks that the two agree.

intent
    One of INTENTS. When a ticket touches several topics, the intent is the request the customer
    asks the shop to act on now; a second topic appears only as background (something that
    happened before, or is already solved) and never changes the label. Overlaps inside one
    request are settled by the definitions: an item that arrived broken is `damaged_item` even
    when the customer asks for a refund; cancelling an undelivered order is `cancel_order` even
    when the customer asks for the money back.

priority
    1. Start from BASE_PRIORITY[intent].
    2. A safety hazard or a legal threat makes it `urgent`, whatever else is said.
    3. Otherwise raise one level for each raising cue present (explicit urgency words; saying the
       customer already contacted the shop about this; being charged twice for the order), never
       above `urgent`.
    4. Otherwise, with no cue of 2-3 present, "no rush / acelesi yok" lowers one level, never
       below `low`.

order_id
    `ORD-` + the 6 digits of the order number, or null. Customers write it as ORD-123456,
    ORD 123456, ord123456, #123456, "order number 123456", "123456 numaralı siparişim",
    "sipariş no 123456". A ticket holds at most one order number. Other numbers (phones,
    amounts, dates, tracking numbers, postcodes, customer numbers, verification codes) never
    contain the order digits.

language
    The language the ticket is written in (Turkish tickets may lack Turkish letters).

Splits. The held-out split is drawn first (so it does not depend on the training size), about
half of it from templates and products the training split never uses (flag `H`). No two tickets
in either split share a text or a body (the ticket without greeting and sign-off) once case,
diacritics, punctuation, whitespace and digits are folded away, and no training ticket reaches a
word-trigram Jaccard similarity of MAX_CROSS_SPLIT_JACCARD with any held-out ticket. Within a
split, intents cycle evenly, languages follow TR_SHARE exactly, and each intent's cue
combinations follow fixed shares (_cue_shares), so every priority rule is exercised.

Usage: python scripts/make_triage_data.py [--seed N]   (writes both files)
       from make_triage_data import generate; train, heldout = generate(seed)
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
from pathlib import Path

SEED = 20250611
N_TRAIN = 600
N_HELDOUT = 200
TR_SHARE = 0.4

ROOT = Path(__file__).resolve().parents[1]
TRAIN_PATH = ROOT / "training" / "data" / "triage_train.jsonl"
HELDOUT_PATH = ROOT / "suites" / "data" / "triage_heldout.jsonl"

# ---------------------------------------------------------------------------------------------
# The labelling rules (the single source of truth)
# ---------------------------------------------------------------------------------------------

INTENT_DEFINITIONS = {
    "order_status": "asks where an order is, when it will arrive, or why it has not arrived "
    "(also: tracking not updating, shown as delivered but not received).",
    "cancel_order": "wants an order that has not been delivered yet cancelled "
    "(even if they also ask for the money back).",
    "return_refund": "wants to send back an item that is fine (does not fit, changed mind, "
    "not as expected) or asks about the refund for such a return.",
    "damaged_item": "the item arrived broken, cracked, scratched, torn, defective or does not "
    "work, whatever remedy they ask for (refund or replacement).",
    "wrong_item": "received a different product, model, brand, size or colour than ordered.",
    "payment_issue": "problems with paying or being charged: card declined, payment not "
    "registered, discount or instalments not applied, wrong invoice amount, charged twice.",
    "change_address": "wants the delivery address of an order changed or corrected.",
    "account_access": "cannot log in: wrong password, reset e-mail or link, locked account, "
    "verification code.",
    "product_question": "asks about a product itself: colours, sizes, stock, warranty, "
    "material, shipping options.",
}
INTENTS = list(INTENT_DEFINITIONS)
PRIORITIES = ["low", "normal", "high", "urgent"]
LANGUAGES = ["en", "tr"]

BASE_PRIORITY = {
    "product_question": "low",
    "return_refund": "low",
    "order_status": "normal",
    "damaged_item": "normal",
    "wrong_item": "normal",
    "payment_issue": "normal",
    "account_access": "normal",
    "cancel_order": "high",
    "change_address": "high",
}

# Intents about a placed order: they usually carry an order number.
ORDER_INTENTS = {
    "order_status", "cancel_order", "return_refund", "damaged_item", "wrong_item",
    "payment_issue", "change_address",
}

# Each cue: its effect on priority, the keywords a reader recognises it by (lower case; the
# prompt lists them), and the sentences the generator writes. `double_charge` lives inside the
# payment_issue templates flagged `D`, so it has no free sentences.
CUES = {
    "safety": {
        "effect": "urgent",
        "keywords": {
            "en": ["smoke", "smoking", "sparks", "electric shock", "burning smell", "melted"],
            "tr": ["duman", "kıvılcım", "elektrik çarptı", "yanık kokusu", "eridi"],
        },
        "sentences": {
            "en": ["It started smoking when I plugged it in.",
                   "It gives off sparks and the cable gets very hot.",
                   "I got an electric shock when I touched it.",
                   "There was a burning smell and part of the casing melted."],
            "tr": ["Fişe takınca duman çıkmaya başladı.",
                   "Kıvılcım çıkarıyor, kablosu çok ısınıyor.",
                   "Dokununca elektrik çarptı.",
                   "Yanık kokusu geldi, kasasının bir kısmı eridi."],
        },
    },
    "legal": {
        "effect": "urgent",
        "keywords": {
            "en": ["legal action", "lawyer", "consumer protection", "court"],
            "tr": ["yasal yol", "tüketici hakem heyeti", "avukat", "mahkeme"],
        },
        "sentences": {
            "en": ["Otherwise I will take legal action.",
                   "If this isn't resolved, my lawyer will contact you.",
                   "I will file a complaint with the consumer protection authority.",
                   "I'm prepared to take this to court."],
            "tr": ["Aksi halde yasal yollara başvuracağım.",
                   "Çözülmezse tüketici hakem heyetine şikayet edeceğim.",
                   "Avukatıma danışıyorum, çözülmezse dava açacağım.",
                   "Konuyu mahkemeye taşıyacağım."],
        },
    },
    "urgency": {
        "effect": +1,
        "keywords": {
            "en": ["urgent", "asap", "as soon as possible", "immediately", "right away"],
            "tr": ["acil", "hemen", "bir an önce", "ivedilikle"],
        },
        "sentences": {
            "en": ["This is urgent.",
                   "Please handle this ASAP.",
                   "I need this sorted out immediately.",
                   "URGENT, please!",
                   "Please reply as soon as possible.",
                   "Please deal with it right away, it's urgent."],
            "tr": ["Acil!",
                   "Lütfen acil dönüş yapın.",
                   "Hemen ilgilenmenizi rica ediyorum.",
                   "Bir an önce çözülmesi gerekiyor.",
                   "Konu acil, lütfen yardımcı olun.",
                   "İvedilikle dönüş bekliyorum."],
        },
    },
    "repeat": {
        "effect": +1,
        "keywords": {
            "en": ["third time", "second email", "already contacted", "wrote to you last week",
                   "already called"],
            "tr": ["üçüncü kez", "ikinci kez", "daha önce iki kez", "geçen hafta da",
                   "üç kez aradım"],
        },
        "sentences": {
            "en": ["This is the third time I'm writing to you about this.",
                   "I already contacted you twice and nobody answered.",
                   "I wrote to you last week about this and still have no answer.",
                   "This is my second email about the same problem.",
                   "I have already called your hotline three times about this."],
            "tr": ["Bu konuda üçüncü kez yazıyorum.",
                   "Daha önce iki kez yazdım, cevap alamadım.",
                   "Geçen hafta da bu konuda yazmıştım, hâlâ dönüş yok.",
                   "Aynı konu için ikinci kez ulaşıyorum.",
                   "Müşteri hizmetlerini bu konuda üç kez aradım, sonuç yok."],
        },
    },
    "double_charge": {
        "effect": +1,
        "keywords": {
            "en": ["charged twice", "twice", "two times", "double charge", "duplicate"],
            "tr": ["iki kez", "iki defa", "iki kere", "mükerrer"],
        },
        "sentences": {"en": [], "tr": []},
    },
    "calm": {
        "effect": -1,
        "keywords": {
            "en": ["no rush", "no hurry", "not urgent", "take your time"],
            "tr": ["acelesi yok", "acil değil", "acele etmeyin", "zamanınız olduğunda"],
        },
        "sentences": {
            "en": ["No rush.",
                   "It's not urgent, whenever you get a chance.",
                   "No hurry at all.",
                   "Take your time, thanks."],
            "tr": ["Acelesi yok.",
                   "Acil değil, müsait olduğunuzda bakarsınız.",
                   "Hiç acele etmeyin.",
                   "Zamanınız olduğunda dönerseniz sevinirim."],
        },
    },
}
RAISING_CUES = ("urgency", "repeat", "double_charge")
OVERRIDE_CUES = ("safety", "legal")


def apply_priority_rules(intent: str, cues: set[str] | frozenset[str]) -> str:
    """The priority a ticket of `intent` with these cues gets (rules 1-4 above)."""
    if cues & set(OVERRIDE_CUES):
        return "urgent"
    level = PRIORITIES.index(BASE_PRIORITY[intent])
    raised = len(cues & set(RAISING_CUES))
    if raised:
        level = min(level + raised, len(PRIORITIES) - 1)
    elif "calm" in cues:
        level = max(level - 1, 0)
    return PRIORITIES[level]


# ---------------------------------------------------------------------------------------------
# Surface material
# ---------------------------------------------------------------------------------------------

# (English noun phrase, Turkish nominative, Turkish accusative, flags). Flags: E electric,
# A apparel with letter sizes, S soft (textile: tears rather than cracks), H held-out only.
ITEMS = [
    ("wireless headset", "kablosuz kulaklık", "kablosuz kulaklığı", "E"),
    ("pair of running shoes", "koşu ayakkabısı", "koşu ayakkabısını", "S"),
    ("coffee machine", "kahve makinesi", "kahve makinesini", "E"),
    ("winter jacket", "kışlık mont", "kışlık montu", "AS"),
    ("phone case", "telefon kılıfı", "telefon kılıfını", ""),
    ("blender", "blender", "blenderı", "E"),
    ("desk lamp", "masa lambası", "masa lambasını", "E"),
    ("backpack", "sırt çantası", "sırt çantasını", "S"),
    ("smartwatch", "akıllı saat", "akıllı saati", "E"),
    ("bed sheet set", "nevresim takımı", "nevresim takımını", "S"),
    ("electric kettle", "su ısıtıcısı", "su ısıtıcısını", "E"),
    ("yoga mat", "yoga matı", "yoga matını", "S"),
    ("pair of sunglasses", "güneş gözlüğü", "güneş gözlüğünü", ""),
    ("hair dryer", "saç kurutma makinesi", "saç kurutma makinesini", "E"),
    ("office chair", "ofis koltuğu", "ofis koltuğunu", ""),
    ("dress", "elbise", "elbiseyi", "AS"),
    ("baby stroller", "bebek arabası", "bebek arabasını", "H"),
    ("robot vacuum", "robot süpürge", "robot süpürgeyi", "EH"),
    ("frying pan", "tava", "tavayı", "H"),
    ("pair of jeans", "kot pantolon", "kot pantolonu", "ASH"),
]

# Main request templates. A leading "[FLAGS]" marks: H held-out only, E needs an electric item,
# A an apparel item, S a soft item, R a rigid (not soft) item, D the customer was charged twice
# (a raising cue).
# Slots: {my_order} (en: "my order" + inline order number or nothing), {sip} (tr: inline
# "123456 numaralı " prefix or nothing), {item}, {item_acc} (tr accusative), {days}, {address},
# {code} (a 6-digit verification code, never an order number).
TEMPLATES = {
    "en": {
        "order_status": [
            "Where is {my_order}? It still hasn't arrived.",
            "{my_order} was supposed to arrive {days} days ago and I still have nothing.",
            "Can you tell me the status of {my_order}?",
            "The tracking page for {my_order} hasn't updated in {days} days. Is it lost?",
            "I'm still waiting for {my_order} with the {item}. When will it be delivered?",
            "Any update on {my_order}? The estimated delivery date has passed.",
            "[H]Has {my_order} shipped yet? I haven't received any shipping e-mail.",
            "[H]{my_order} shows as delivered but nothing came to my door.",
            "[H]My parcel with the {item} seems stuck somewhere. Could you check where {my_order} is?",
        ],
        "cancel_order": [
            "Please cancel {my_order}.",
            "I want to cancel {my_order}, I ordered the {item} by mistake.",
            "I changed my mind about the {item}. Can you cancel {my_order} before it ships?",
            "Please stop {my_order}, I found the {item} cheaper elsewhere.",
            "I'd like to cancel {my_order} and get my money back before it's dispatched.",
            "Can I still cancel {my_order}? I placed it an hour ago.",
            "[H]Cancel {my_order} please, I accidentally ordered the {item} twice.",
            "[H]I no longer need the {item}, please cancel {my_order}.",
            "[H]Is it possible to cancel {my_order}? I'll be away and can't receive it.",
        ],
        "return_refund": [
            "I'd like to return the {item} from {my_order}, it doesn't suit me.",
            "How do I send back the {item}? I don't like it as much as I expected.",
            "I returned the {item} from {my_order} {days} days ago and still haven't got my refund.",
            "Please start a return for {my_order}. The {item} is fine, I just changed my mind.",
            "Can I get a refund for the {item}? It's unused and still in the box.",
            "I want to return {my_order}. Please send me a return label.",
            "[H]The {item} is not for me, so I'd like to send it back for a refund.",
            "[H]When will the refund for the {item} I sent back reach my account?",
            "[H]I want my money back for {my_order}; the {item} looks different from the photos.",
        ],
        "damaged_item": [
            "[R]The {item} from {my_order} arrived broken.",
            "[R]{my_order} came with a cracked {item}. I want a replacement.",
            "[S]The {item} arrived torn and stained.",
            "The box was crushed and the {item} inside is damaged. Please send a new one or refund me.",
            "[E]The {item} stopped working after one day. It's defective.",
            "[R]The {item} in {my_order} arrived scratched and dented.",
            "[E]The {item} doesn't turn on at all, it seems faulty. I'd like a refund.",
            "[RH]The {item} was in pieces when I opened {my_order}.",
            "[SH]The seams of the {item} from {my_order} came apart on the first day.",
            "[H]I received the {item} today but it's damaged, the packaging was torn open.",
            "[RH]The {item} from {my_order} is defective, one part is cracked and another is loose.",
        ],
        "wrong_item": [
            "I ordered the {item} in black but received a white one.",
            "{my_order} contained the wrong item. I ordered the {item} and got something completely different.",
            "[A]You sent me the wrong size. I ordered the {item} in M and got an XL.",
            "This is not what I ordered. Instead of the {item} there was an unrelated product in the box.",
            "The parcel for {my_order} had someone else's items inside, not my {item}.",
            "I received the wrong model of the {item}.",
            "[H]The {item} you delivered is a different brand than the one in {my_order}.",
            "[H]Wrong colour! I clearly chose blue for the {item} in {my_order}.",
            "[H]What arrived for {my_order} doesn't match my order confirmation at all; I ordered the {item}.",
        ],
        "payment_issue": [
            "My card was declined at checkout but I have enough balance.",
            "I paid for {my_order} but it still shows as unpaid.",
            "The discount code wasn't applied and I paid the full price for {my_order}.",
            "I can't complete the payment, the bank page keeps timing out.",
            "[H]The invoice for {my_order} shows a higher amount than I paid at checkout.",
            "[H]My instalment plan wasn't applied to {my_order}, it was charged as a single payment.",
            "[D]I was charged twice for {my_order}.",
            "[D]My bank statement shows the payment for {my_order} twice.",
            "[D]You took the money for {my_order} two times. Please refund the duplicate charge.",
            "[DH]Double charge on my credit card for {my_order}!",
        ],
        "change_address": [
            "I need to change the delivery address for {my_order}. The new address is {address}.",
            "Can you update the shipping address on {my_order}? I moved last week.",
            "Please send {my_order} to my office instead: {address}.",
            "I made a mistake in the address for {my_order}, the correct one is {address}.",
            "Is it still possible to change where {my_order} is delivered?",
            "Please deliver {my_order} to {address} instead of my home address.",
            "[H]The house number on {my_order} is wrong, it should be {address}.",
            "[H]I'm moving before {my_order} arrives, can you redirect it to {address}?",
            "[H]Wrong postcode on {my_order}! Please correct the address to {address}.",
        ],
        "account_access": [
            "I can't log in to my account. It says my password is wrong.",
            "I forgot my password and the reset e-mail never arrives.",
            "My account has been locked after too many login attempts.",
            "The verification code {code} I received by SMS doesn't work.",
            "I can't sign in since I changed my phone number.",
            "I want to check {my_order} but I can't log into my account.",
            "[H]Login keeps failing with 'invalid credentials' although I type the correct password.",
            "[H]The password reset link says it has expired every time I click it.",
            "[H]I'm stuck at two-factor authentication, the code {code} is rejected.",
        ],
        "product_question": [
            "Is the {item} available in other colours?",
            "Does the {item} come with a warranty?",
            "When will the {item} be back in stock?",
            "What are the dimensions of the {item}?",
            "Is the {item} suitable for daily use outdoors?",
            "I liked the {item} from {my_order}. Do you sell it in other colours too?",
            "[H]Can you tell me what material the {item} is made of?",
            "[H]Do you ship the {item} abroad?",
            "[H]I'm thinking of buying the {item}. Is it easy to clean?",
        ],
    },
    "tr": {
        "order_status": [
            "{sip}siparişim hâlâ gelmedi, nerede acaba?",
            "{sip}siparişimin durumu nedir?",
            "{days} gündür {sip}siparişimi bekliyorum, kargo nerede?",
            "Kargo takip sayfası {days} gündür güncellenmiyor, {sip}siparişim kayboldu mu?",
            "{sip}siparişim ne zaman teslim edilecek? İçinde {item} vardı.",
            "Tahmini teslim tarihi geçti ama {sip}siparişim hâlâ elime ulaşmadı.",
            "[H]{sip}siparişim kargoya verildi mi? Hiç bilgilendirme gelmedi.",
            "[H]Sistemde {sip}siparişim teslim edildi görünüyor ama bana hiçbir şey gelmedi.",
            "[H]{sip}siparişim nerede kaldı? {item_acc} bir haftadır bekliyorum.",
        ],
        "cancel_order": [
            "{sip}siparişimi iptal etmek istiyorum.",
            "Yanlışlıkla {item_acc} sipariş ettim, {sip}siparişimi iptal eder misiniz?",
            "Vazgeçtim, {sip}siparişim kargoya verilmeden iptal edilsin lütfen.",
            "{item_acc} başka yerde daha ucuza buldum, {sip}siparişimi iptal edin lütfen.",
            "{sip}siparişimi iptal edip paramı iade etmenizi istiyorum.",
            "Bir saat önce verdiğim {sip}siparişimi hâlâ iptal edebilir miyim?",
            "[H]Aynı ürünü yanlışlıkla iki kez sipariş ettim, {sip}siparişimi iptal edin lütfen.",
            "[H]Artık {item_acc} istemiyorum, {sip}siparişimi iptal etmenizi rica ediyorum.",
            "[H]Şehir dışında olacağım için {sip}siparişimi teslim alamayacağım, iptal etmek istiyorum.",
        ],
        "return_refund": [
            "{item} bana olmadı, iade etmek istiyorum.",
            "{sip}siparişimdeki {item_acc} iade etmek istiyorum, beğenmedim.",
            "{days} gün önce {item_acc} iade ettim ama param hâlâ yatmadı.",
            "{item_acc} nasıl iade edebilirim? Hiç kullanmadım, kutusunu bile açmadım.",
            "{sip}siparişim için iade kodu alabilir miyim?",
            "Fikrimi değiştirdim, {item_acc} geri göndermek istiyorum.",
            "[H]İade ettiğim {item} için para iadesi ne zaman yapılır?",
            "[H]{item} beklediğim gibi çıkmadı, iade edip paramı geri almak istiyorum.",
            "[H]{sip}siparişimin iadesini başlatmak istiyorum, ürün sağlam ama ihtiyacım kalmadı.",
        ],
        "damaged_item": [
            "[R]{sip}siparişimdeki {item} kırık geldi.",
            "[S]{item} yırtık ve lekeli geldi.",
            "{item} kutudan hasarlı çıktı, değişim istiyorum.",
            "Kargo kutusu ezilmişti ve içindeki {item} zarar görmüş.",
            "[E]{item} bir gün sonra çalışmayı bıraktı, arızalı.",
            "[R]{sip}siparişim geldi ama {item} çizik ve ezik.",
            "[E]{item} hiç çalışmıyor, bozuk galiba. Paramı geri istiyorum.",
            "[RH]Paketi açtığımda {item} parçalanmış durumdaydı.",
            "[SH]{sip}siparişimdeki {item} ilk gün dikiş yerinden söküldü.",
            "[RH]{item} defolu çıktı, bir parçası kırık.",
            "[RH]{sip}siparişimle gelen {item} çatlak, kullanılamaz durumda.",
        ],
        "wrong_item": [
            "{item_acc} siyah sipariş ettim ama beyaz geldi.",
            "{sip}siparişimde yanlış ürün gönderilmiş, {item} yerine bambaşka bir şey geldi.",
            "[A]Yanlış beden gönderdiniz, {item_acc} M sipariş etmiştim, XL geldi.",
            "Bu benim sipariş ettiğim ürün değil, kutudan {item} yerine alakasız bir ürün çıktı.",
            "{sip}siparişimin paketinden başkasına ait ürünler çıktı.",
            "{item_acc} farklı bir model olarak göndermişsiniz.",
            "[H]Gelen {item} sipariş ettiğim markayla aynı değil.",
            "[H]Yanlış renk geldi! {sip}siparişimde {item} için mavi seçmiştim.",
            "[H]{sip}siparişimde gelen ürün sipariş onayımla hiç uyuşmuyor, ben {item} sipariş etmiştim.",
        ],
        "payment_issue": [
            "Kartım ödeme sırasında reddedildi ama bakiyem yeterli.",
            "{sip}siparişimin ödemesini yaptım ama hâlâ ödenmedi görünüyor.",
            "İndirim kodu uygulanmadı, {sip}siparişim için tam fiyat ödedim.",
            "Ödemeyi tamamlayamıyorum, banka sayfası sürekli zaman aşımına uğruyor.",
            "[H]{sip}siparişimin faturasında ödediğimden daha yüksek tutar yazıyor.",
            "[H]Taksit seçeneği uygulanmadı, {sip}siparişim tek çekim olarak çekildi.",
            "[D]{sip}siparişim için kartımdan iki kez ödeme çekildi.",
            "[D]Hesap ekstremde {sip}siparişimin ödemesi iki defa görünüyor.",
            "[D]{sip}siparişim için paramı iki kere aldınız, fazladan çekilen tutarı iade edin.",
            "[DH]Kredi kartımdan {sip}siparişim için mükerrer çekim yapıldı!",
        ],
        "change_address": [
            "{sip}siparişimin teslimat adresini değiştirmem gerekiyor. Yeni adresim: {address}.",
            "Geçen hafta taşındım, {sip}siparişimin adresini güncelleyebilir misiniz?",
            "{sip}siparişimi ev yerine iş adresime gönderin lütfen: {address}.",
            "{sip}siparişimde adresi yanlış yazmışım, doğrusu: {address}.",
            "{sip}siparişimin teslim edileceği adresi hâlâ değiştirebilir miyim?",
            "Lütfen {sip}siparişimi şu adrese teslim edin: {address}.",
            "[H]{sip}siparişimdeki kapı numarası yanlış, doğru adres şu: {address}.",
            "[H]{sip}siparişim gelmeden taşınıyorum, şu adrese yönlendirebilir misiniz: {address}?",
            "[H]{sip}siparişimde posta kodu yanlış! Adresi şöyle düzeltin lütfen: {address}.",
        ],
        "account_access": [
            "Hesabıma giriş yapamıyorum, şifre yanlış diyor.",
            "Şifremi unuttum, sıfırlama e-postası da gelmiyor.",
            "Çok fazla deneme yaptığım için hesabım kilitlendi.",
            "SMS ile gelen {code} doğrulama kodu çalışmıyor.",
            "Telefon numaramı değiştirdiğimden beri hesabıma giremiyorum.",
            "{sip}siparişimi kontrol etmek istiyorum ama hesabıma giriş yapamıyorum.",
            "[H]Doğru şifreyi girmeme rağmen 'geçersiz bilgiler' hatası alıyorum.",
            "[H]Şifre sıfırlama bağlantısına her tıkladığımda süresi dolmuş diyor.",
            "[H]İki adımlı doğrulamada takıldım, {code} kodu kabul edilmiyor.",
        ],
        "product_question": [
            "{item} başka renklerde de var mı?",
            "{item} garantili mi?",
            "{item} ne zaman tekrar stoğa girer?",
            "{item} için ölçü bilgisi verebilir misiniz?",
            "{item} dış mekânda günlük kullanıma uygun mu?",
            "{sip}siparişimdeki {item_acc} çok beğendim, başka renkleri de var mı?",
            "[H]{item} hangi malzemeden yapılıyor?",
            "[H]{item} için yurt dışına gönderim yapıyor musunuz?",
            "[H]{item} almayı düşünüyorum, temizlemesi kolay mı?",
        ],
    },
}

# Background mentions of another intent (multi-intent tickets): past or already solved, never a
# request, so they never change the label. No product_question: a question is always a request.
SECONDARY = {
    "en": {
        "order_status": "My previous order arrived on time, so no complaints there.",
        "cancel_order": "I cancelled a different order last month and that was handled fine.",
        "return_refund": "The refund for my earlier return came through, thanks for that.",
        "damaged_item": "Last time a mug arrived broken but you replaced it quickly.",
        "wrong_item": "A while ago you sent me the wrong size once, but that got sorted.",
        "payment_issue": "The payment problem I had in spring was resolved.",
        "change_address": "I already updated my address in my profile, that part is fine.",
        "account_access": "I had trouble logging in earlier but managed to reset my password.",
    },
    "tr": {
        "order_status": "Önceki siparişim zamanında gelmişti, o konuda sorun yok.",
        "cancel_order": "Geçen ay başka bir siparişimi iptal etmiştim, o sorunsuz halloldu.",
        "return_refund": "Daha önceki iademin parası hesabıma geçti, teşekkürler.",
        "damaged_item": "Geçen sefer bir kupa kırık gelmişti ama hızlıca değiştirdiniz.",
        "wrong_item": "Bir ara yanlış beden göndermiştiniz, o da çözülmüştü.",
        "payment_issue": "İlkbaharda yaşadığım ödeme sorunu çözülmüştü.",
        "change_address": "Adresimi profilimde zaten güncelledim, o kısım tamam.",
        "account_access": "Daha önce giriş yapamıyordum ama şifremi sıfırlayınca düzeldi.",
    },
}

# How customers write the order number. {d} = the 6 digits.
ORDER_INLINE = {  # en: after "my order"; tr: before "siparişim"
    "en": [" ORD-{d}", " #{d}", " {d}", " (ORD-{d})", " ord-{d}", " ORD{d}", " no. {d}",
           " number {d}", " ORD {d}"],
    "tr": ["ORD-{d} numaralı ", "{d} numaralı ", "#{d} nolu ", "ORD{d} no'lu ",
           "ORD {d} numaralı ", "ord-{d} numaralı "],
}
ORDER_SENTENCE = {
    "en": ["Order number: {d}.", "Order ID: ORD-{d}.", "My order number is #{d}.",
           "Order ref ORD {d}.", "It's order #{d}.", "Order no {d}."],
    "tr": ["Sipariş no: {d}.", "Sipariş numaram: ORD-{d}.", "Sipariş numarası #{d}.",
           "Sipariş no {d}.", "Sipariş numaram ORD {d}."],
}
ORDER_SENTENCE_ASIDE = {  # for intents where the order is incidental
    "en": ["My last order was #{d}, in case you need it.", "(Order ORD-{d}, if that helps.)"],
    "tr": ["Son siparişim ORD-{d}, lazım olursa.", "(Sipariş no {d}, işinize yararsa.)"],
}
NO_ORDER = {"en": ["my order", "my order", "my recent order", "my last order"],
            "tr": ["", "", "", "son "]}

# Distractor sentences: (context, text). Context: order (ORDER_INTENTS), account, product, any.
DISTRACTORS = {
    "en": [
        ("any", "You can reach me on {phone}."),
        ("any", "My phone number is {phone}."),
        ("any", "My customer number is {cust}."),
        ("order", "I paid {amount} for it."),
        ("order", "The total was {amount}."),
        ("order", "I ordered it on {date}."),
        ("order", "The tracking number is {tracking}."),
        ("order", "Tracking no: {tracking}."),
        ("order", "My postcode is {postcode}."),
        ("account", "This has been going on since {date}."),
        ("account", "I have {amount} in store credit on that account."),
        ("product", "It's listed at {amount} on your site."),
        ("product", "I saw it in your newsletter on {date}."),
        ("product", "Would it ship to postcode {postcode}?"),
    ],
    "tr": [
        ("any", "Telefon numaram: {phone}."),
        ("any", "Bana {phone} numarasından ulaşabilirsiniz."),
        ("any", "Müşteri numaram {cust}."),
        ("order", "{amount} ödedim."),
        ("order", "Toplam tutar {amount} idi."),
        ("order", "{date} tarihinde sipariş verdim."),
        ("order", "Kargo takip numarası: {tracking}."),
        ("order", "Takip no {tracking}."),
        ("order", "Posta kodum {postcode}."),
        ("account", "{date} tarihinden beri bu sorunu yaşıyorum."),
        ("account", "Hesabımda {amount} hediye çeki bakiyesi var."),
        ("product", "Sitenizde fiyatı {amount} görünüyor."),
        ("product", "{date} tarihli bülteninizde gördüm."),
        ("product", "{postcode} posta koduna gönderim var mı?"),
    ],
}

OPENERS = {
    "en": ["Hi,", "Hello,", "Hello team,", "Dear support,", "Hey there,", "Good morning,",
           "Hi there!", "To whom it may concern,", "Good afternoon,"],
    "tr": ["Merhaba,", "İyi günler,", "Selamlar,", "Merhabalar,", "Sayın yetkili,",
           "İyi akşamlar,", "Selam,", "Günaydın,"],
}
CLOSERS = {
    "en": ["Thanks.", "Thank you in advance.", "Best regards, {name}", "Cheers, {name}",
           "Please help.", "Looking forward to your reply.", "Thanks, {name}", "Kind regards."],
    "tr": ["Teşekkürler.", "Şimdiden teşekkür ederim.", "İyi çalışmalar.",
           "Saygılarımla, {name}", "Yardımcı olursanız sevinirim.", "Kolay gelsin.",
           "Teşekkürler, {name}", "İyi günler dilerim."],
}
ANGRY_OPENERS = {
    "en": ["I'm really disappointed.", "Unbelievable.", "Terrible service so far."],
    "tr": ["Gerçekten çok sinirliyim.", "Bu kabul edilemez.",
           "Hizmetinizden hiç memnun değilim."],
}
ANGRY_CLOSERS = {
    "en": ["Very disappointed.", "Not impressed.", "Do better."],
    "tr": ["Çok hayal kırıklığına uğradım.", "Hiç memnun değilim.", "Yazık."],
}
NAMES = {
    "en": ["Emma", "James", "Olivia", "Daniel", "Sophie", "Michael", "Laura", "Tom", "Priya",
           "Carlos"],
    "tr": ["Ayşe", "Mehmet", "Zeynep", "Emre", "Elif", "Burak", "Selin", "Murat", "Gökhan",
           "Şule"],
}
STREETS = {
    "en": ["{n} Baker Street, London {uk}", "Flat {m}, {n} Rose Lane, Manchester {uk}",
           "{n} Maple Avenue, Springfield {zip}", "Hauptstraße {n}, {zip} Berlin",
           "{n} Harbour Road, Bristol {uk}"],
    "tr": ["Moda Cad. No:{n} D:{m}, {zip} Kadıköy/İstanbul",
           "Atatürk Bulvarı No:{n}, {zip} Çankaya/Ankara",
           "Cumhuriyet Mah. Gül Sok. No:{n}, {zip} Konak/İzmir",
           "Bağdat Cad. No:{n} Daire {m}, {zip} Maltepe/İstanbul",
           "İnönü Cad. No:{n}, {zip} Nilüfer/Bursa"],
}

TR_ASCII = str.maketrans("çğıöşüÇĞİÖŞÜâÂîÎûÛ", "cgiosuCGIOSUaAiIuU")
_PROTECT = re.compile("\x02(.*?)\x03", re.S)
_FLAGS = re.compile(r"^\[([A-Z]+)\]")


def strip_diacritics(text: str) -> str:
    return text.translate(TR_ASCII)


def normalise(text: str) -> str:
    """Case, Turkish diacritics, punctuation, whitespace and digits folded away: the key under
    which two tickets count as the same text."""
    text = strip_diacritics(text).lower()
    text = re.sub(r"\d+", "0", text)
    text = re.sub(r"[^\w\s]", " ", text)
    return " ".join(text.split())


def _parse(template: str) -> tuple[str, str]:
    match = _FLAGS.match(template)
    return (template[match.end():], match.group(1)) if match else (template, "")


def _cap(text: str, lang: str) -> str:
    """Upper-case the first letter of a sentence piece (Turkish dotted i aware)."""
    for i, ch in enumerate(text):
        if ch in "\x02\x03":
            continue
        if ch.islower():
            upper = "İ" if (lang == "tr" and ch == "i") else ch.upper()
            return text[:i] + upper + text[i + 1:]
        return text
    return text


def _protect(text: str) -> str:
    return f"\x02{text}\x03"


# ---------------------------------------------------------------------------------------------
# Numbers
# ---------------------------------------------------------------------------------------------

def _digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(n))


def _phone(rng: random.Random, lang: str) -> str:
    if lang == "tr":
        a = f"5{rng.randint(30, 59)}"
        return rng.choice([f"0{a} {_digits(rng, 3)} {_digits(rng, 2)} {_digits(rng, 2)}",
                           f"+90 {a} {_digits(rng, 3)} {_digits(rng, 2)} {_digits(rng, 2)}",
                           f"0{a}{_digits(rng, 7)}"])
    return rng.choice([f"+1 ({rng.randint(201, 989)}) 555-{_digits(rng, 4)}",
                       f"+44 7700 {_digits(rng, 6)}",
                       f"07700 {_digits(rng, 6)}",
                       f"+49 151 {_digits(rng, 8)}"])


def _amount(rng: random.Random, lang: str) -> str:
    whole, cents = rng.randint(15, 2400), rng.randint(0, 99)
    if lang == "tr":
        grouped = f"{whole:,}".replace(",", ".")
        return rng.choice([f"{grouped},{cents:02d} TL", f"₺{grouped},{cents:02d}",
                           f"{grouped} TL", f"₺{grouped}"])
    return rng.choice([f"${whole:,}.{cents:02d}", f"€{whole}", f"£{whole}.{cents:02d}",
                       f"{whole}.{cents:02d} EUR", f"${whole}"])


_MONTHS = {"en": ["January", "February", "March", "April", "May", "June", "July", "August",
                  "September", "October", "November", "December"],
           "tr": ["Ocak", "Şubat", "Mart", "Nisan", "Mayıs", "Haziran", "Temmuz", "Ağustos",
                  "Eylül", "Ekim", "Kasım", "Aralık"]}


def _date(rng: random.Random, lang: str) -> str:
    day, month, year = rng.randint(1, 28), rng.randint(1, 12), rng.choice([2024, 2025])
    name = _MONTHS[lang][month - 1]
    if lang == "tr":
        return rng.choice([f"{day:02d}.{month:02d}.{year}", f"{day} {name}", f"{day} {name} {year}",
                           f"{day:02d}/{month:02d}/{year}"])
    return rng.choice([f"{month:02d}/{day:02d}/{year}", f"{name} {day}", f"{day} {name} {year}",
                       f"{year}-{month:02d}-{day:02d}"])


def _tracking(rng: random.Random) -> str:
    alnum = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"
    return rng.choice([
        "1Z" + "".join(rng.choice(alnum) for _ in range(6)) + _digits(rng, 10),
        _digits(rng, 12),
        "AR" + _digits(rng, 9) + "TR",
        "YK" + _digits(rng, 10),
    ])


def _postcode(rng: random.Random, lang: str) -> str:
    if lang == "en" and rng.random() < 0.5:
        return (rng.choice(["SW1A", "M14", "BS1", "NW1", "E2"]) + " "
                + str(rng.randint(1, 9)) + rng.choice("ABDEFGHJLNPQRSTUWXY")
                + rng.choice("ABDEFGHJLNPQRSTUWXY"))
    return f"{rng.randint(1, 81):02d}{_digits(rng, 3)}"


def _address(rng: random.Random, lang: str) -> str:
    street = rng.choice(STREETS[lang])
    zip_code = f"{rng.randint(1, 81):02d}{_digits(rng, 3)}" if lang == "tr" else _digits(rng, 5)
    uk = rng.choice(["NW1 6XE", "M14 5TP", "BS8 1QU", "SW9 8LA"])
    return street.format(n=rng.randint(1, 250), m=rng.randint(1, 24), zip=zip_code, uk=uk)


# ---------------------------------------------------------------------------------------------
# One ticket
# ---------------------------------------------------------------------------------------------

def _cue_options(intent: str) -> list[frozenset[str]]:
    """Every cue combination the generator may write for this intent."""
    raising = ["urgency", "repeat"] + (["double_charge"] if intent == "payment_issue" else [])
    options = [frozenset()]
    for cue in raising:
        options.append(frozenset({cue}))
    for i, a in enumerate(raising):
        for b in raising[i + 1:]:
            options.append(frozenset({a, b}))
    options.append(frozenset({"calm"}))
    if intent != "product_question":
        options += [frozenset({"legal"}), frozenset({"legal", "urgency"})]
    if intent == "damaged_item":
        options += [frozenset({"safety"}), frozenset({"safety", "urgency"})]
    return options


def _cue_shares(intent: str) -> dict[frozenset[str], float]:
    """How often each cue combination appears for this intent: a target priority is drawn (the
    base one twice as often), then a combination giving it. Double charges and hazards are
    common ticket types, not rarities, so they are favoured."""
    by_priority: dict[str, list[frozenset[str]]] = {}
    for option in _cue_options(intent):
        by_priority.setdefault(apply_priority_rules(intent, option), []).append(option)

    def weight(option):
        return 4 if option & {"double_charge", "safety"} else 1

    shares = {}
    target_weights = {p: (2 if p == BASE_PRIORITY[intent] else 1)
                      + any(weight(o) > 1 for o in options)
                      for p, options in by_priority.items()}
    total = sum(target_weights.values())
    for p, options in by_priority.items():
        option_total = sum(map(weight, options))
        for option in options:
            shares[option] = target_weights[p] / total * weight(option) / option_total
    return shares


def _cue_plan(rng: random.Random, intent: str, n: int) -> list[frozenset[str]]:
    """n cue combinations in the proportions of _cue_shares (largest remainder), shuffled, so
    that even a 200-example split holds every rule in its expected share."""
    shares = sorted(_cue_shares(intent).items(), key=lambda kv: sorted(kv[0]))
    counts = [int(share * n) for _, share in shares]
    by_remainder = sorted(range(len(shares)), key=lambda i: counts[i] - shares[i][1] * n)
    for i in by_remainder[: n - sum(counts)]:
        counts[i] += 1
    plan = [option for (option, _), count in zip(shares, counts) for _ in range(count)]
    rng.shuffle(plan)
    return plan


def _typos(rng: random.Random, text: str, count: int) -> str:
    """Swap, drop or double a letter in `count` words outside protected spans."""
    spans, start = [], 0
    for match in _PROTECT.finditer(text):  # free text between protected spans
        spans.append((start, match.start()))
        start = match.end()
    spans.append((start, len(text)))
    words = [(a + s, a + e) for a, b in spans
             for s, e in ((m.start(), m.end()) for m in re.finditer(r"[^\W\d_]{5,}", text[a:b]))]
    for s, e in sorted(rng.sample(words, min(count, len(words))), reverse=True):
        word = text[s:e]
        pos = rng.randint(1, len(word) - 2)
        op = rng.choice(["swap", "drop", "double"])
        if op == "swap":
            word = word[:pos] + word[pos + 1] + word[pos] + word[pos + 2:]
        elif op == "drop":
            word = word[:pos] + word[pos + 1:]
        else:
            word = word[:pos] + word[pos] + word[pos:]
        text = text[:s] + word + text[e:]
    return text


class _Pools:
    """Templates and items usable by one split."""

    def __init__(self, split: str) -> None:
        self.split = split
        self.items = [it for it in ITEMS if split == "test" or "H" not in it[3]]

    def templates(self, rng: random.Random, lang: str, intent: str, cues: frozenset[str]):
        parsed = [_parse(t) for t in TEMPLATES[lang][intent]]
        double = "double_charge" in cues
        parsed = [(t, f) for t, f in parsed if ("D" in f) == double]
        if "safety" in cues:  # the hazard sentence speaks of an electric device
            parsed = [(t, f) for t, f in parsed if "{item" in t and not set(f) & set("AS")]
        train = [(t, f) for t, f in parsed if "H" not in f]
        if self.split == "train":
            return train
        held = [(t, f) for t, f in parsed if "H" in f]
        return held if held and (rng.random() < 0.5 or not train) else train


def _pick_item(rng: random.Random, items: list[tuple], flags: str, cues: frozenset[str]):
    if "E" in flags or "safety" in cues:
        items = [it for it in items if "E" in it[3]]
    for flag in "AS":
        if flag in flags:
            items = [it for it in items if flag in it[3]]
    if "R" in flags:
        items = [it for it in items if "S" not in it[3]]
    return rng.choice(items)


def _order_mention(rng: random.Random, intent: str, lang: str, has_slot: bool,
                   used_digits: set[str]) -> tuple[str | None, str, str | None]:
    """(digits or None, the text for the template's order slot, a separate order sentence)."""
    p_order = 0.8 if intent in ORDER_INTENTS else (0.6 if has_slot else 0.1)
    digits = None
    if rng.random() < p_order:
        while digits is None or digits in used_digits or digits == "123456":
            digits = str(rng.randint(100000, 999999))  # 123456 is the prompt's example
        used_digits.add(digits)

    sentence, inline = None, ""
    if digits is not None:
        if has_slot and rng.random() < 0.7:
            inline = _protect(rng.choice(ORDER_INLINE[lang]).format(d=digits))
        else:
            pool = ORDER_SENTENCE if intent in ORDER_INTENTS else ORDER_SENTENCE_ASIDE
            sentence = _protect(rng.choice(pool[lang]).format(d=digits))
    if lang == "en":
        slot = "my order" + inline if inline else rng.choice(NO_ORDER["en"])
    else:
        slot = inline or rng.choice(NO_ORDER["tr"])
    return digits, slot, sentence


def _distractors(rng: random.Random, intent: str, lang: str, fresh) -> list[str]:
    context = ("order" if intent in ORDER_INTENTS else
               "account" if intent == "account_access" else "product")
    options = [t for ctx, t in DISTRACTORS[lang] if ctx in ("any", context)]
    n_distract = rng.choices([0, 1, 2], weights=[45, 40, 15])[0]
    sentences = []
    for text in rng.sample(options, n_distract):
        sentences.append(_cap(text.format(
            phone=_protect(fresh(lambda: _phone(rng, lang))),
            cust=_protect(fresh(lambda: f"{rng.choice(['', 'C-'])}{_digits(rng, 8)}")),
            amount=_protect(fresh(lambda: _amount(rng, lang))),
            date=_protect(fresh(lambda: _date(rng, lang))),
            tracking=_protect(fresh(lambda: _tracking(rng))),
            postcode=_protect(fresh(lambda: _postcode(rng, lang))),
        ), lang))
    return sentences


def _n_sentences(pieces: list[str]) -> int:
    return sum(len(re.findall(r"[.!?](?=\s|$|\x03)", p.replace("\x02", ""))) or 1
               for p in pieces)


def _make_ticket(rng: random.Random, pools: _Pools, intent: str, lang: str,
                 cues: frozenset[str], used_digits: set[str]) -> dict:
    template, flags = rng.choice(pools.templates(rng, lang, intent, cues))
    item = _pick_item(rng, pools.items, flags, cues)
    has_slot = "{my_order}" in template or "{sip}" in template
    digits, slot, id_sentence = _order_mention(rng, intent, lang, has_slot, used_digits)

    def fresh(make):
        """A distractor value whose digits never contain the order digits."""
        while True:
            value = make()
            if digits is None or digits not in re.sub(r"\D", "", value):
                return value

    code = fresh(lambda: _digits(rng, 6))
    main = template.format(
        my_order=slot, sip=slot, item=item[0] if lang == "en" else item[1],
        item_acc=item[2], days=rng.randint(2, 14),
        address=_protect(fresh(lambda: _address(rng, lang))), code=_protect(code),
    )
    main = _cap(main, lang)
    if "D" in flags:  # "charged twice" is a priority cue: keep it legible
        main = _protect(main.replace("\x02", "").replace("\x03", ""))

    tags = [lang]
    secondary = None  # background mention of another intent
    if rng.random() < 0.25:
        other = rng.choice([i for i in SECONDARY[lang] if i != intent])
        secondary = SECONDARY[lang][other]
        tags.append("multi_intent")

    # Cue sentences are protected from typos: the label rests on them.
    cue_sentences = [_protect(rng.choice(CUES[c]["sentences"][lang]))
                     for c in sorted(cues) if CUES[c]["sentences"][lang]]
    distractors = _distractors(rng, intent, lang, fresh)
    fixed = [main, *(p for p in (id_sentence, secondary) if p), *cue_sentences]
    while distractors and _n_sentences(fixed + distractors) > 6:
        distractors.pop()

    extras = [*distractors, *cue_sentences]
    if id_sentence:
        extras.insert(0 if rng.random() < 0.6 else len(extras), id_sentence)
    if rng.random() < 0.3:
        rng.shuffle(extras)
    body = [main, *extras]
    if cue_sentences and rng.random() < 0.2:  # "URGENT!" / "Third time writing." up front
        body.insert(0, body.pop(body.index(cue_sentences[0])))
    if secondary:
        body.insert(0 if rng.random() < 0.5 else len(body), secondary)

    angry = "calm" not in cues and rng.random() < 0.12
    opener = rng.choice(ANGRY_OPENERS[lang]) if angry else (
        rng.choice(OPENERS[lang]) if rng.random() < 0.7 else None)
    closer = rng.choice(ANGRY_CLOSERS[lang]) if angry else (
        rng.choice(CLOSERS[lang]) if rng.random() < 0.6 else None)
    name = rng.choice(NAMES[lang])
    if angry:
        tags.append("angry")

    separator = "\n\n" if rng.random() < 0.25 else " "  # e-mail layout or one paragraph
    text = " ".join(body)
    if opener:
        text = opener + separator + text
    if closer:
        closer = closer.format(name=name)
        if separator != " ":
            closer = closer.replace(", ", ",\n")
        text = text + separator + closer

    # Noise.
    if rng.random() < (0.3 if lang == "en" else 0.25):
        text = _typos(rng, text, rng.randint(1, 3))
        tags.append("typo")
    if lang == "tr" and rng.random() < 0.35:
        text = strip_diacritics(text)
        tags.append("no_diacritics")
    if lang == "en" and rng.random() < 0.08:
        text = text.lower()
        tags.append("lowercase")
    text = text.replace("\x02", "").replace("\x03", "")

    if digits is None:
        tags.append("no_order_id")
    if re.search(r"\d", text.replace(digits, "", 1) if digits else text):
        tags.append("distractor_number")
    tags += [f"cue_{cue}" for cue in sorted(cues)]
    if pools.split == "test" and "H" in flags:
        tags.append("heldout_template")

    expected = {
        "intent": intent,
        "priority": apply_priority_rules(intent, cues),
        "order_id": f"ORD-{digits}" if digits else None,
        "language": lang,
    }
    return {"ticket": text, "expected": expected, "tags": tags, "_body": " ".join(body)}


MAX_CROSS_SPLIT_JACCARD = 0.6


def trigrams(text: str) -> frozenset[tuple[str, str, str]]:
    words = normalise(text).split()
    return frozenset(zip(words, words[1:], words[2:]))


def jaccard(a: frozenset, b: frozenset) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


def _split(seed: int, split: str, n: int, seen: set[str], used_digits: set[str],
           avoid: list[frozenset] = ()) -> list[dict]:
    """`seen`: normalised texts no ticket may repeat; `avoid`: trigram sets of the other split,
    which no ticket may resemble at Jaccard >= MAX_CROSS_SPLIT_JACCARD."""
    rng = random.Random(f"triage:{seed}:{split}")
    pools = _Pools(split)
    # Positions cycle through the 9 intents and, independently (period 5), through the
    # languages at TR_SHARE: exact totals, and every intent gets ~40% Turkish.
    plan = [(INTENTS[i % len(INTENTS)],
             "tr" if int((i + 1) * TR_SHARE) > int(i * TR_SHARE) else "en") for i in range(n)]
    rng.shuffle(plan)
    cue_plans = {intent: _cue_plan(rng, intent, sum(i == intent for i, _ in plan))
                 for intent in INTENTS}
    examples = []
    for k, (intent, lang) in enumerate(plan, start=1):
        cues = cue_plans[intent].pop()
        while True:
            example = _make_ticket(rng, pools, intent, lang, cues, used_digits)
            keys = {normalise(example.pop("_body")), normalise(example["ticket"])}
            grams = trigrams(example["ticket"])
            if not keys & seen and all(jaccard(grams, g) < MAX_CROSS_SPLIT_JACCARD
                                       for g in avoid):
                seen.update(keys)
                break
        examples.append({"id": f"tri-{split}-{k:04d}", **example})
    return examples


def generate(seed: int = SEED) -> tuple[list[dict], list[dict]]:
    """(train, heldout). Held-out is drawn first, so its content does not depend on N_TRAIN."""
    seen: set[str] = set()
    used_digits: set[str] = set()
    heldout = _split(seed, "test", N_HELDOUT, seen, used_digits)
    avoid = [trigrams(e["ticket"]) for e in heldout]
    train = _split(seed, "train", N_TRAIN, seen, used_digits, avoid)
    return train, heldout


def to_jsonl(examples: list[dict]) -> str:
    return "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in examples)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args(argv)
    train, heldout = generate(args.seed)
    for path, rows in ((TRAIN_PATH, train), (HELDOUT_PATH, heldout)):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(to_jsonl(rows), encoding="utf-8")
        print(f"wrote {len(rows)} examples to {path.relative_to(ROOT)}")
    digest = hashlib.sha256(HELDOUT_PATH.read_bytes()).hexdigest()
    print(f"held-out sha256: {digest}  (the pin in suites/triage.yaml must say the same)")


if __name__ == "__main__":
    main()
