"""Story wrappers for long-message measurements on dev: a greeting, some context, the question, thanks.

Written apart from the knowledge base and from any test set; used only to build dev-side copies.
"""

from __future__ import annotations

#: (opening, story, closing) per language: wraps a question into a four-sentence message.
WRAP = {
    "en": (
        "Hi there!",
        "I ordered a present for my mum last week and I'm a bit nervous about it.",
        "Thanks a lot in advance.",
    ),
    "es": (
        "¡Hola!",
        "La semana pasada pedí un regalo para mi madre y estoy un poco nerviosa.",
        "Muchas gracias de antemano.",
    ),
    "fr": (
        "Bonjour !",
        "J'ai commandé un cadeau pour ma mère la semaine dernière et je suis un peu inquiète.",
        "Merci d'avance.",
    ),
    "de": (
        "Hallo zusammen!",
        "Ich habe letzte Woche ein Geschenk für meine Mutter bestellt und bin etwas nervös.",
        "Vielen Dank im Voraus.",
    ),
    "pt": (
        "Olá!",
        "Semana passada encomendei um presente para minha mãe e estou um pouco ansiosa.",
        "Muito obrigada desde já.",
    ),
    "it": (
        "Ciao!",
        "La settimana scorsa ho ordinato un regalo per mia madre e sono un po' in ansia.",
        "Grazie mille in anticipo.",
    ),
    "nl": (
        "Hallo!",
        "Ik heb vorige week een cadeau voor mijn moeder besteld en ik ben een beetje zenuwachtig.",
        "Alvast bedankt.",
    ),
    "zh": ("你好！", "我上周给我妈妈订了一份礼物，有点担心。", "先谢谢了。"),
    "ja": ("こんにちは！", "先週、母へのプレゼントを注文したので少し心配しています。", "よろしくお願いします。"),
    "ko": ("안녕하세요!", "지난주에 엄마 선물을 주문했는데 좀 걱정이 돼요.", "미리 감사드려요."),
    "ru": ("Здравствуйте!", "На прошлой неделе я заказала подарок для мамы и немного волнуюсь.", "Заранее спасибо."),
    "ar": ("مرحبا!", "طلبت هدية لأمي الأسبوع الماضي وأنا قلقة قليلاً.", "شكرا مقدما."),
    "lv": ("Sveiki!", "Pagājušajā nedēļā pasūtīju dāvanu mammai un mazliet uztraucos.", "Paldies jau iepriekš."),
    "pl": ("Dzień dobry!", "W zeszłym tygodniu zamówiłam prezent dla mamy i trochę się denerwuję.", "Z góry dziękuję."),
    "tr": (
        "Merhaba!",
        "Geçen hafta annem için bir hediye sipariş ettim ve biraz endişeliyim.",
        "Şimdiden çok teşekkürler.",
    ),
}


def in_a_story(text: str, lang: str) -> str:
    opening, story, closing = WRAP.get(lang, WRAP["en"])
    sep = "" if lang in ("zh", "ja") else " "
    return sep.join([opening, story, text, closing])
