"""Build deterministic, realistic plexsim libraries of any size (``plexsim generate``, the demo library).

:func:`generate_library` returns the same :class:`~plexsim.library.Library` for the same arguments on every machine:
every random choice comes from :class:`random.Random` streams seeded with strings (seeded through SHA-512, not
``hash()``), nothing reads the clock, and collections of strings are never iterated in set order.

The catalogue is shaped like a real listener's library: a heavy-tailed number of albums per artist, studio LPs, EPs,
singles, double albums and deluxe editions, remasters, live albums, best-ofs and "Various Artists" compilations that
re-use the same songs, featured artists, Unicode names, per-album file formats, albums added in batches. Listening
is modelled per account: a taste (favourite genres and artists), sessions (whole albums in order, artist runs,
shuffles of loved tracks, genre mixes) at evening-heavy hours over the last three years, ratings skewed towards what
was played and loved, and playlists themed by genre, mood, decade or artist, some of them smart.

Independent streams keep knobs independent: changing ``plays`` or ``playlists`` does not change the catalogue, and
changing ``sonic_fraction`` or ``sonic_dims`` changes only the sonic vectors and track moods.
"""

from __future__ import annotations

import heapq
import math
import random
from bisect import bisect
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import accumulate
from typing import TypeVar

from plexsim.library import (
    Account,
    Album,
    Artist,
    HistoryEntry,
    Library,
    Playlist,
    PlayState,
    Rating,
    Section,
    Track,
)

__all__ = ["ADMIN_TOKEN", "FIRST_ID", "VARIOUS_ARTISTS", "account_token", "generate_library"]

#: Token of account 1 (the server admin) in every generated library.
ADMIN_TOKEN = "plexsim-admin-token"  # noqa: S105 - a published test credential of the simulator, not a secret
#: The first ratingKey; artists, albums and tracks then count up in scan order, playlists follow the last track.
FIRST_ID = 1000
#: Album artist of compilations, as Plex's agents name it.
VARIOUS_ARTISTS = "Various Artists"

_T = TypeVar("_T")
_DAY = 86_400
_YEAR = 365 * _DAY
#: How long before ``now`` the music section was created (gives Section's default 1_600_000_000 for the default now).
_SECTION_AGE = 164_000_000
_HISTORY_SPAN = 3 * _YEAR

_ACCOUNT_NAMES = ("admin", "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy")


def account_token(name: str, account_id: int) -> str:
    """Return the token a generated account gets: ``ADMIN_TOKEN`` for account 1, ``plexsim-<name>-token`` otherwise."""
    return ADMIN_TOKEN if account_id == 1 else f"plexsim-{name}-token"


# --- vocabularies --------------------------------------------------------------------------------------------
# Written for this generator; genres, styles and moods follow the kind of tags Plex's music agents assign.


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split("|"))


MOODS: tuple[str, ...] = _words(
    "Aggressive|Ambitious|Angry|Angst-Ridden|Atmospheric|Autumnal|Bittersweet|Bleak|Boisterous|Brooding|"
    "Calm/Peaceful|Carefree|Cathartic|Celebratory|Cerebral|Cheerful|Confident|Dramatic|Dreamy|Earnest|Eerie|"
    "Elegant|Energetic|Ethereal|Euphoric|Exuberant|Fiery|Gentle|Gloomy|Happy|Hypnotic|Intense|Intimate|"
    "Introspective|Joyous|Laid-Back/Mellow|Lively|Melancholy|Menacing|Nocturnal|Nostalgic|Passionate|Playful|"
    "Poignant|Quirky|Rebellious|Reflective|Romantic|Rousing|Sad|Sensual|Sentimental|Sophisticated|Spacey|"
    "Sparkling|Swaggering|Tense/Anxious|Theatrical|Trippy|Uplifting|Warm|Whimsical|Wistful|Yearning"
)


@dataclass(frozen=True, slots=True)
class _Genre:
    name: str
    styles: tuple[str, ...]
    moods: tuple[str, ...]
    #: How common the genre is in listeners' libraries (relative).
    weight: float
    #: Typical track length relative to a 4-minute pop song.
    length: float
    #: Share of songs with a featured artist.
    feat: float
    #: Locale override: artists of this genre mostly come from here.
    locale: str | None = None


def _genre(
    name: str,
    styles: str,
    moods: str,
    weight: float,
    length: float = 1.0,
    feat: float = 0.03,
    locale: str | None = None,
) -> _Genre:
    return _Genre(name, tuple(styles.split("|")), tuple(moods.split("|")), weight, length, feat, locale)


GENRES: tuple[_Genre, ...] = (
    _genre("Rock", "Classic Rock|Hard Rock|Garage Rock|Psychedelic Rock|Progressive Rock",
           "Energetic|Rebellious|Confident|Boisterous|Passionate|Rousing|Swaggering|Fiery", 10),
    _genre("Pop", "Synth-Pop|Dance-Pop|Teen Pop|Art Pop|Power Pop",
           "Cheerful|Playful|Romantic|Happy|Sparkling|Uplifting|Yearning|Carefree", 9, 0.9, 0.15),
    _genre("Alternative", "Alternative Rock|Grunge|Britpop|Shoegaze|Post-Punk",
           "Brooding|Angst-Ridden|Bittersweet|Cathartic|Intense|Melancholy|Earnest|Dreamy", 8),
    _genre("Indie", "Indie Rock|Indie Pop|Lo-Fi|Dream Pop|Twee Pop",
           "Wistful|Quirky|Dreamy|Bittersweet|Introspective|Whimsical|Warm|Nostalgic", 8),
    _genre("Electronic", "Techno|IDM|Downtempo|Synthwave|Electro",
           "Hypnotic|Spacey|Cerebral|Nocturnal|Atmospheric|Trippy|Euphoric|Tense/Anxious", 7, 1.25, 0.12),
    _genre("Dance", "House|Deep House|Trance|Drum & Bass|UK Garage",
           "Euphoric|Energetic|Celebratory|Hypnotic|Lively|Sensual|Exuberant|Nocturnal", 4, 1.3, 0.2),
    _genre("Hip-Hop", "Boom Bap|Trap|Alternative Rap|Gangsta Rap|Jazz Rap",
           "Swaggering|Confident|Aggressive|Menacing|Playful|Intense|Nocturnal|Angry", 7, 0.95, 0.35),
    _genre("R&B", "Contemporary R&B|Neo-Soul|Quiet Storm|New Jack Swing|Alternative R&B",
           "Sensual|Romantic|Intimate|Warm|Yearning|Sophisticated|Laid-Back/Mellow|Passionate", 4, 1.0, 0.25),
    _genre("Soul", "Northern Soul|Southern Soul|Motown|Philly Soul|Psychedelic Soul",
           "Passionate|Warm|Joyous|Romantic|Earnest|Poignant|Uplifting|Sentimental", 4),
    _genre("Funk", "P-Funk|Funk Rock|Jazz-Funk|Boogie|Afrobeat",
           "Playful|Celebratory|Swaggering|Lively|Exuberant|Sensual|Confident|Boisterous", 3, 1.2, 0.08),
    _genre("Jazz", "Bebop|Hard Bop|Cool Jazz|Free Jazz|Jazz Fusion",
           "Sophisticated|Cerebral|Elegant|Nocturnal|Laid-Back/Mellow|Intimate|Intense|Reflective", 5, 1.5),
    _genre("Blues", "Delta Blues|Chicago Blues|Electric Blues|Blues-Rock|Country Blues",
           "Gloomy|Earnest|Passionate|Sad|Warm|Swaggering|Yearning|Bittersweet", 3, 1.1),
    _genre("Classical", "Baroque|Romantic|Chamber Music|Modern Composition|Minimalism",
           "Elegant|Dramatic|Reflective|Calm/Peaceful|Poignant|Theatrical|Cerebral|Ethereal", 4, 1.6, 0.0),
    _genre("Folk", "Contemporary Folk|Folk-Rock|Traditional Folk|Anti-Folk|Chamber Folk",
           "Wistful|Gentle|Intimate|Autumnal|Earnest|Reflective|Nostalgic|Warm", 4),
    _genre("Country", "Alt-Country|Americana|Bluegrass|Honky Tonk|Outlaw Country",
           "Earnest|Nostalgic|Sentimental|Warm|Rousing|Bittersweet|Carefree|Yearning", 3, 0.9),
    _genre("Metal", "Heavy Metal|Thrash Metal|Doom Metal|Black Metal|Power Metal",
           "Aggressive|Menacing|Intense|Angry|Dramatic|Bleak|Fiery|Theatrical", 4, 1.25),
    _genre("Punk", "Hardcore Punk|Pop-Punk|Post-Hardcore|Emo|Skate Punk",
           "Rebellious|Angry|Energetic|Angst-Ridden|Boisterous|Cathartic|Playful|Tense/Anxious", 3, 0.65),
    _genre("Reggae", "Roots Reggae|Dub|Dancehall|Ska|Rocksteady",
           "Laid-Back/Mellow|Warm|Carefree|Hypnotic|Joyous|Earnest|Lively|Spacey", 2, 1.05, 0.12),
    _genre("Latin", "Salsa|Bossa Nova|Cumbia|Reggaeton|Tango",
           "Sensual|Passionate|Lively|Romantic|Celebratory|Warm|Exuberant|Elegant", 2, 1.0, 0.2, "es"),
    _genre("World", "Afropop|Fado|Flamenco|Highlife|Celtic",
           "Joyous|Passionate|Poignant|Lively|Warm|Wistful|Celebratory|Earnest", 2, 1.1, 0.05, "pt"),
    _genre("Ambient", "Dark Ambient|Drone|Space Ambient|Ambient Techno|Field Recordings",
           "Atmospheric|Ethereal|Calm/Peaceful|Spacey|Hypnotic|Eerie|Reflective|Dreamy", 2, 1.8, 0.0),
    _genre("Soundtrack", "Film Score|Video Game Music|Musical Theatre|TV Soundtrack|Library Music",
           "Dramatic|Theatrical|Atmospheric|Tense/Anxious|Uplifting|Poignant|Eerie|Whimsical", 3, 0.85, 0.0),
    _genre("Singer/Songwriter", "Acoustic|Confessional|Piano Rock|Soft Rock|Contemporary Singer/Songwriter",
           "Intimate|Introspective|Bittersweet|Gentle|Earnest|Wistful|Reflective|Sentimental", 4),
    _genre("Experimental", "Noise|Musique Concrète|Avant-Garde|Sound Collage|Free Improvisation",
           "Cerebral|Eerie|Tense/Anxious|Trippy|Bleak|Menacing|Quirky|Hypnotic", 1, 1.4, 0.0),
    _genre("New Age", "Meditation|Healing|Neo-Classical|Celtic New Age|Instrumental Pop",
           "Calm/Peaceful|Ethereal|Gentle|Reflective|Dreamy|Warm|Atmospheric|Elegant", 1, 1.4, 0.0),
    _genre("Gospel", "Traditional Gospel|Contemporary Gospel|Spirituals|Southern Gospel|Gospel Choir",
           "Uplifting|Joyous|Earnest|Rousing|Passionate|Warm|Celebratory|Poignant", 1),
    _genre("Easy Listening", "Lounge|Exotica|Space Age Pop|Mood Music|Orchestral Pop",
           "Laid-Back/Mellow|Elegant|Sophisticated|Whimsical|Warm|Romantic|Carefree|Calm/Peaceful", 1, 0.85),
    _genre("J-Pop", "City Pop|Shibuya-kei|Anison|Visual Kei|J-Rock",
           "Cheerful|Sparkling|Nostalgic|Energetic|Yearning|Playful|Dreamy|Uplifting", 2, 1.05, 0.1, "ja"),
    _genre("Chanson", "Nouvelle Chanson|Cabaret|Yé-yé|Musette|Variété Française",
           "Romantic|Wistful|Theatrical|Elegant|Bittersweet|Intimate|Nostalgic|Playful", 1, 0.9, 0.05, "fr"),
    _genre("Disco", "Euro-Disco|Italo Disco|Nu-Disco|Hi-NRG|Post-Disco",
           "Euphoric|Celebratory|Sensual|Exuberant|Lively|Sparkling|Happy|Playful", 2, 1.3, 0.1),
)  # fmt: skip


_ADJ = _words(
    "Silver|Golden|Broken|Electric|Quiet|Hollow|Burning|Velvet|Crystal|Midnight|Neon|Paper|Wild|Lonely|Northern|"
    "Southern|Distant|Secret|Blue|Crimson|Bitter|Sweet|Heavy|Gentle|Restless|Frozen|Fading|Endless|Lost|Sacred|"
    "Savage|Tender|Empty|Hidden|Strange|Young|Ancient|Wicked|Lucky|Perfect|Simple|Modern|Cosmic|Lunar|Static|"
    "Digital|Western|Little|Bright|Dark|Slow|Golden|Rusty|Faded|Hungry|Holy|Dirty|Pale|Scarlet"
)
_NOUN = _words(
    "Heart|River|Ocean|City|Fire|Light|Shadow|Dream|Mirror|Garden|Window|Highway|Summer|Winter|Storm|Thunder|Rain|"
    "Star|Moon|Sun|Machine|Ghost|Angel|Stranger|Harbor|Island|Mountain|Forest|Desert|Echo|Signal|Wave|Tide|"
    "Horizon|Memory|Promise|Kingdom|Empire|Circus|Carnival|Parade|Satellite|Rocket|Engine|Radio|Television|"
    "Paradise|Heaven|Diamond|Velvet|Motel|Cathedral|Lighthouse|Avenue|Station|Bridge|Valley|Canyon|Meadow|Orchard|"
    "Silence|Fever|Gravity|Honey|Wire|Glass|Smoke|Ashes|Daylight|Twilight|Lantern|Compass|Anchor|Feather"
)
_PLURAL = _words(
    "Wolves|Foxes|Strangers|Machines|Ghosts|Saints|Rivals|Lovers|Kings|Shadows|Echoes|Tigers|Drifters|Satellites|"
    "Antelopes|Horses|Sparrows|Pilots|Heroes|Mirrors|Orphans|Comets|Vandals|Preachers|Ravens|Sailors|Dreamers|"
    "Monarchs|Outlaws|Fireflies|Magnets|Astronauts|Lanterns|Hounds|Gentlemen|Daughters|Brothers|Thieves"
)
_VERB = _words(
    "Hold|Take|Leave|Call|Save|Wake|Follow|Chase|Find|Kiss|Tell|Show|Bring|Break|Carry|Light|Hide|Catch|Keep|Let"
)
_OBJECT = _words(
    "Me|You|Us|Me Home|Me Down|It Up|the Night|the Light|Your Heart|My Name|Me Closer|Me Under|It Slow|On|Me Now"
)
_GERUND = _words(
    "Running|Dancing|Falling|Waiting|Dreaming|Drifting|Burning|Walking|Driving|Sleeping|Flying|Shining|Fading"
)
_PREP = _words("in|through|under|on|across|into|beyond|above")
_PARTS = _words("Intro|Interlude|Outro|Prelude|Reprise|Coda|Overture")
_FIRST_EN = _words(
    "Alice|James|Nina|Marcus|Ruby|Oscar|Maya|Leo|Clara|Jack|Ella|Sam|Grace|Henry|Iris|Miles|Hazel|Otis|June|Felix|"
    "Nora|Theo|Ivy|Arlo|Daisy|Wes|Lola|Eli|Maeve|Cole|Florence|Billy|Joni|Van|Patti|Dusty|Etta|Nick|Tom|Kate"
)
_LAST_EN = _words(
    "Harper|Bennett|Hayes|Sullivan|Brooks|Carter|Quinn|Ellis|Foster|Reed|Walsh|Monroe|Hart|Blake|Marsh|Cross|Vance|"
    "Holloway|Whitaker|Fairchild|O'Connor|McAllister|Doyle|Baxter|Pryce|Sinclair|Winslow|Ashby|Kendrick|Lyle|"
    "Delaney|Fitzgerald|Okafor|Nakamura|Rivera|Kowalski|Lindgren|Moreau"
)
_PLACES = _words(
    "Berlin|Tokyo|Paris|London|Reykjavík|São Paulo|Montréal|Zürich|Kraków|Lisbon|Istanbul|Brooklyn|Memphis|"
    "Nashville|Detroit|Manchester|Glasgow|Dublin|Osaka|Marseille|Göteborg|Kyiv|Athens|Havana|Lagos|Seoul"
)
_VENUES = _words(
    "the Royal Albert Hall|Red Rocks|the Fillmore|Budokan|the Apollo|the BBC|Montreux|the Hollywood Bowl|"
    "Paradiso|the Olympia|Roskilde|the Troubadour|the Roundhouse|Massey Hall|the Ryman|Café de la Danse"
)
_METAL_A = _words("Storm|Iron|Blood|Death|Night|Steel|Doom|Hell|Thunder|Frost|Skull|Grave|Black|War|Venom|Rust")
_METAL_B = _words("hammer|head|fire|crown|fist|wolf|blade|throne|born|reaper|mouth|gate|lord|spawn|wind")
_UMLAUT = {"a": "ä", "o": "ö", "u": "ü", "e": "ë", "i": "ï"}
_SYMBOL_NAMES = _words("!!!|???|+/-|***|¡¡¡|!?!|:‑)|&&&")
_LABEL_SUFFIX = _words("Records|Recordings|Music|Sound|Audio|Editions|Tapes|Label|Disques|Schallplatten")

# Locale vocabularies: (first names, last names, title words, band-name words).
_LOCALES: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    "es": (
        _words("José|María|Begoña|Iñaki|Ramón|Lucía|Sofía|Andrés|Jesús|Inés|Joaquín|Ángel|Maite|Nicolás"),
        _words("Peña|Muñoz|Núñez|García|Ibáñez|Martínez|Fernández|López|Sánchez|Gómez|Domínguez|Álvarez|Castañeda"),
        _words(
            "Corazón|Canción|Mañana|Noche|Sueño|Luna|Fuego|Camino|Ciudad|Amor|Niña|Olvido|Marea|Cielo|Invierno|"
            "Verano|Recuerdo|Alegría|Tristeza|Madrugada|Despedida|Corazones"
        ),
        _words("Los Planetas Rojos|Los Fantasmas|Los Caminantes|Los Lobos Azules|Los Soñadores|La Marea Baja"),
    ),
    "fr": (
        _words("Zoé|Hélène|Léa|Amélie|François|Jérôme|Benoît|Céline|Élodie|Gaëlle|Noël|Anaïs|Loïc|Thaïs"),
        _words("Lefèvre|Dubois|Mercier|Girard|Bélanger|Gagné|Fontaine|Leclerc|Ménard|Béranger|Pagès|Ducrocq"),
        _words(
            "Été|Rêverie|Mélodie|Océan|Lumière|Étoile|Cœur|Forêt|Soirée|Fenêtre|Château|Hiver|Nuit|Printemps|"
            "Déjà vu|Là-bas|Ça ira|À toi|Où es-tu ?|Sous la pluie|Café crème|Mistral"
        ),
        _words("Les Rêveurs|Les Étoiles Filantes|Les Fantômes|Les Nuits Blanches|Électrique Garçon|Phœnix Bleu"),
    ),
    "de": (
        _words("Jürgen|Günther|Käthe|Jörg|Lena|Matthias|Jürgen|Sönke|Anneliese|Björn|Katrin|Ulrich"),
        _words("Müller|Schäfer|Weiß|Köhler|Krämer|Groß|Fuß|Bäcker|Schröder|Hoffmann|Böhm|Strauß"),
        _words(
            "Sehnsucht|Nächte|Straße|Träume|Himmel|Schatten|Feuer|Wälder|Brücke|Märchen|Überall|Grün|Weiß|Heimweh|"
            "Fernweh|Mondschein|Großstadt|Frühling"
        ),
        _words("Die Brücken|Die Träumer|Die Nächte|Kraftwerkstatt|Neue Wellen|Blaue Stunde|Die Ölmühle"),
    ),
    "nordic": (
        _words("Søren|Åsa|Björn|Sigrún|Jóhann|Märta|Ingrid|Freyja|Eiður|Ólöf|Håkon|Sæunn|Ásgeir|Dagný"),
        _words("Kjær|Lindqvist|Ågren|Ólaf|Þór|Öberg|Østergaard|Hákonar|Sæther|Bjørnstad|Jón"),
        _words("Glósóli|Hjartað|Svefn|Ljósið|Vetur|Sólin|Myrkur|Ísland|Hafið|Fjörður|Vindur|Dögun|Stjörnur|Norðurljós"),
        _words("Sigur Vök|Hrafnaþing|Sólstafir Dís|Ský Rós|Kvöldsól|Fjörður Ró|Jökull Eldur"),
    ),
    "ja": (
        _words("Yōko|Ryūichi|Kōji|Shūhei|Haruka|Ren|Sakura|Daisuke|Yūki|Mai"),
        _words("Takahashi|Satō|Itō|Ōno|Yamada|Suzuki|Nakamura|Watanabe|Kōno"),
        _words(
            "夏の思い出|君の名前|夜に駆ける|東京|さくら|雨上がりの街|星降る夜|真夜中の虹|遠い約束|青い空|花火|"
            "白い季節|風の物語|月光|ネオン|ハイウェイ|サヨナラ|ミッドナイト"
        ),
        _words(
            "月光楽団|青い鳥倶楽部|星空少女|夜光虫バンド|サカナノユメ|ミユリア|東京ネオン|桜前線|山田花子|高橋陽子|中村翔太"
        ),
    ),
    "ru": (
        _words("Андрей|Мария|Сергей|Анна|Дмитрий|Ольга|Юрий|Наталья|Алёна|Фёдор|Пётр|Ксения"),
        _words("Смирнов|Иванов|Кузнецов|Попов|Соколов|Лебедев|Волков|Морозов|Зайцев|Орлов|Королёв"),
        _words(
            "Звезда|Ночь|Город|Весна|Ветер|Солнце|Небо|Река|Дорога|Мечта|Осень|Зима|Любовь|Сердце|Пламя|"
            "Последний герой|Белая ночь|Синий троллейбус|Холодное лето"
        ),
        _words("Звёздный путь|Полярная ночь|Сплин и Ветер|Крематорий Сад|Аквариум Света|Ночные Снайперы"),
    ),
    "el": (
        _words("Γιώργος|Μαρία|Νίκος|Ελένη|Δημήτρης|Σοφία|Κώστας|Αθηνά|Σταύρος|Ειρήνη"),
        _words("Οικονόμου|Γεωργίου|Νικολάου|Αλεξίου|Ιωάννου|Δημητρίου|Αντωνίου|Παππά"),
        _words("Αγάπη|Νύχτα|Θάλασσα|Ήλιος|Όνειρο|Καρδιά|Φεγγάρι|Δρόμος|Ουρανός|Αστέρι|Καλοκαίρι|Βροχή"),
        _words("Μελωδία|Πυξ Λαξ Νέοι|Κίτρινα Ποδήλατα|Ξύλινα Σπαθιά Β|Όναρ"),
    ),
    "pt": (
        _words("João|Maria|Gonçalo|Conceição|Luísa|Antônio|Inês|Tomás|Sebastião|Beatriz"),
        _words("Gonçalves|Simões|Araújo|Brandão|Magalhães|Conceição|Assunção|Lourenço|Falcão"),
        _words("Saudade|Coração|Mar|Sertão|Lua|Canção|Manhã|Estrela|Caminho|Chuva|Verão|Ilusão|Ação de Graças"),
        _words("Os Mutantes Novos|Os Paralamas|Madredeus Nova|Ave Sangria|Terno Rei Azul"),
    ),
}
_LOCALE_COUNTRIES: dict[str, tuple[str, ...]] = {
    "en": ("United States of America", "United Kingdom", "Canada", "Australia", "Ireland", "New Zealand"),
    "es": ("Spain", "Mexico", "Argentina", "Colombia", "Chile", "Cuba"),
    "fr": ("France", "Belgium", "Canada", "Switzerland"),
    "de": ("Germany", "Austria", "Switzerland"),
    "nordic": ("Iceland", "Sweden", "Norway", "Denmark", "Finland"),
    "ja": ("Japan",),
    "ru": ("Russia", "Ukraine", "Belarus"),
    "el": ("Greece", "Cyprus"),
    "pt": ("Brazil", "Portugal", "Cape Verde"),
}
_LOCALE_WEIGHTS = (("en", 72.0), ("de", 5), ("fr", 4), ("es", 4), ("nordic", 5), ("ja", 3), ("ru", 3), ("el", 2),
                   ("pt", 2))  # fmt: skip

_REMASTER_ALBUM = ("{t} (Remastered {y})", "{t} ({y} Remaster)", "{t} - Remastered", "{t} [Remastered]")
_REMASTER_TRACK = ("{t} - Remastered {y}", "{t} ({y} Remaster)", "{t} - Remastered", "{t}")
_LIVE_TRACK = ("{t}", "{t} - Live", "{t} (Live)", "{t} [Live]")
_BONUS_TRACK = ("{t} (Demo)", "{t} (Acoustic Version)", "{t} - Instrumental", "{t} (Alternate Take)",
                "{t} (Early Version)", "{t} (Live)")  # fmt: skip
_SINGLE_EXTRA = ("{t} (Radio Edit)", "{t} (Instrumental)", "{t} (Extended Mix)", "{t} (Remix)", "{t} (Acoustic)")
_DELUXE = ("{t} (Deluxe Edition)", "{t} (Deluxe)", "{t} [Expanded Edition]", "{t} (Super Deluxe Edition)")
_KIND_SUMMARY = {"album": "Studio album", "ep": "EP", "single": "Single", "live": "Live album",
                 "remaster": "Remastered reissue", "deluxe": "Deluxe edition", "best-of": "Career retrospective",
                 "compilation": "Compilation"}  # fmt: skip
_BEST_OF = ("Greatest Hits", "The Best of {a}", "Essentials", "Anthology {y0}–{y1}", "Singles", "The Very Best of {a}",
            "Collected", "Gold")  # fmt: skip

# (extension, container, codec, typical kbps, relative spread, weight): per-album choices, as rips and purchases mix.
_FORMATS: tuple[tuple[str, str, str, int, float, float], ...] = (
    ("flac", "flac", "flac", 920, 0.25, 42),
    ("flac", "flac", "flac", 2900, 0.15, 4),  # 24-bit hi-res downloads
    ("mp3", "mp3", "mp3", 320, 0.0, 15),
    ("mp3", "mp3", "mp3", 245, 0.12, 14),  # LAME V0
    ("mp3", "mp3", "mp3", 192, 0.0, 3),
    ("mp3", "mp3", "mp3", 128, 0.0, 2),
    ("m4a", "mp4", "aac", 256, 0.02, 10),
    ("m4a", "mp4", "alac", 870, 0.25, 5),
    ("ogg", "ogg", "vorbis", 192, 0.12, 3),
    ("opus", "ogg", "opus", 128, 0.1, 2),
)
_FORMAT_WEIGHTS = tuple(accumulate(f[5] for f in _FORMATS))
# Where listening happens (local hour -> relative weight): quiet nights, a commute bump, heavy evenings.
_HOUR_WEIGHTS = tuple(accumulate((2, 1, 0.5, 0.3, 0.3, 0.5, 1.5, 3, 4, 3, 2.5, 2.5, 3, 3, 2.5, 2.5, 3, 4.5, 5, 5.5,
                                  6, 6, 5, 3.5)))  # fmt: skip
_ILLEGAL_PATH = str.maketrans({c: "_" for c in '<>:"/\\|?*'})


# --- the catalogue ---------------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Song:
    """A composition: one artist's song, recorded on one or more albums (studio, live, remaster, compilation)."""

    title: str
    artist: _ArtistPlan
    featured: str | None
    #: How the featured artist is written (see ``_credit``).
    feat_form: int
    seconds: float
    popularity: float
    vector: list[float]
    #: Year of the song's first release.
    year: int


@dataclass(slots=True)
class _ArtistPlan:
    artist: Artist
    genre: int
    locale: str
    popularity: float
    center: list[float]
    label: str
    songs: list[_Song] = field(default_factory=list)
    studio: list[tuple[Album, list[_Song]]] = field(default_factory=list)


@dataclass(slots=True)
class _AlbumInfo:
    """What the listening model needs to know about an album beyond the :class:`Album` itself."""

    album: Album
    artist: _ArtistPlan | None  # None for Various Artists compilations
    genre: int
    kind: str
    tracks: list[int] = field(default_factory=list)  # indexes into the track list, in disc/index order


class _Catalogue:
    """Builds artists, albums and tracks until the track budget is used up."""

    def __init__(self, *, tracks: int, seed: int, sonic_fraction: float, sonic_dims: int, now: int) -> None:
        self.rng = random.Random(f"plexsim-catalogue:{seed}")
        self.srng = random.Random(f"plexsim-sonic:{seed}:{sonic_dims}:{sonic_fraction!r}")
        self.budget = tracks
        self.sonic_fraction = sonic_fraction
        self.dims = sonic_dims
        self.now = now
        now_date = datetime.fromtimestamp(now, UTC)
        self.now_year = now_date.year
        self.now_month = now_date.month
        self.created_at = now - _SECTION_AGE
        self.root = Section().locations[0]
        self.next_id = FIRST_ID
        self.artists: list[Artist] = []
        self.albums: list[Album] = []
        self.tracks: list[Track] = []
        self.plans: list[_ArtistPlan] = []
        self.infos: list[_AlbumInfo] = []
        #: Per track: the performing artist's plan, the song, and the genre index.
        self.track_artist: list[_ArtistPlan] = []
        self.track_song: list[_Song] = []
        self.track_genre: list[int] = []
        self.names: set[str] = set()
        self.various: Artist | None = None
        self.last_is_band = True
        self.compilation_titles: set[str] = set()
        self.genre_weights = tuple(accumulate(g.weight for g in GENRES))
        self.genre_centers = [self._unit(self._noise(1.0)) for _ in GENRES]
        self.labels = self._labels(80)
        self.batches = self._batches()

    # -- small helpers --

    def _id(self) -> int:
        self.next_id += 1
        return self.next_id - 1

    def _guid(self, kind: str) -> str:
        return f"plex://{kind}/{self.rng.getrandbits(96):024x}"

    def _noise(self, scale: float) -> list[float]:
        # Uniform noise of the same variance as a Gaussian: summed over dimensions it is as good for clustering
        # and many times faster than random.gauss, which matters at 100,000 tracks.
        r = self.srng.random
        s = scale * math.sqrt(12 / self.dims)
        return [(r() - 0.5) * s for _ in range(self.dims)]

    @staticmethod
    def _unit(v: list[float]) -> list[float]:
        norm = math.sqrt(math.fsum(x * x for x in v)) or 1.0
        return [x / norm for x in v]

    def _near(self, center: list[float], scale: float) -> list[float]:
        r = self.srng.random
        s = scale * math.sqrt(12 / self.dims)
        return [c + (r() - 0.5) * s for c in center]

    def _labels(self, n: int) -> list[str]:
        rng = self.rng
        out: dict[str, None] = {}
        while len(out) < n:
            style = rng.random()
            if style < 0.4:
                name = f"{rng.choice(_NOUN)} {rng.choice(_LABEL_SUFFIX)}"
            elif style < 0.7:
                name = f"{rng.choice(_ADJ)} {rng.choice(_NOUN)} {rng.choice(_LABEL_SUFFIX)}"
            elif style < 0.85:
                name = f"{rng.choice(_LAST_EN)} {rng.choice(_LABEL_SUFFIX)}"
            else:
                words = _LOCALES[rng.choice(tuple(_LOCALES))][2]
                name = f"{rng.choice(words)} {rng.choice(_LABEL_SUFFIX)}"
            out[name] = None
        return list(out)

    def _batches(self) -> list[int]:
        """Days on which the listener added music after the first scan (sorted): the 'album batches'."""
        rng = self.rng
        count = max(12, min(2000, self.budget // 40))
        return sorted(rng.randrange(self.created_at + 3 * _DAY, self.now - _DAY) for _ in range(count))

    def _added_at(self, release: int) -> int:
        """When an album released at ``release`` entered the library: the first scan or a later batch."""
        rng = self.rng
        if release < self.created_at and rng.random() < 0.6:
            return self.created_at + rng.randrange(3 * _DAY)
        lo = max(release, self.created_at)
        start = bisect(self.batches, lo)
        if start < len(self.batches) and rng.random() < 0.85:
            return self.batches[rng.randrange(start, len(self.batches))] + rng.randrange(6 * 3600)
        latest = self.now - 3600
        if lo >= latest:
            return latest
        return min(latest, lo + int(rng.expovariate(1 / (60 * _DAY))))

    # -- names --

    def _unique(self, make: Callable[[], str]) -> str:
        for _ in range(50):
            name = make()
            if name.casefold() not in self.names:
                self.names.add(name.casefold())
                return name
        # Vocabularies run out on very large libraries: a roman numeral keeps names unique and plausible.
        base = make()
        n = 2
        while f"{base} {_roman(n)}".casefold() in self.names:
            n += 1
        name = f"{base} {_roman(n)}"
        self.names.add(name.casefold())
        return name

    def _artist_name(self, genre: _Genre, locale: str) -> tuple[str, bool]:
        """Return (name, is_band)."""
        rng = self.rng
        r = rng.random()
        if locale != "en":
            first, last, words, bands = _LOCALES[locale]
            if r < 0.4:
                return _person(locale, rng.choice(first), rng.choice(last)), False
            if r < 0.7:
                return rng.choice(bands), True
            if locale == "nordic" and r < 0.85:
                return _nordic_word(rng), False
            return rng.choice(words) + ("" if r < 0.9 else f" {rng.choice(words)}"), True
        if genre.name == "Metal" and r < 0.6:
            word = rng.choice(_METAL_A) + rng.choice(_METAL_B)
            return (_umlaut(word, rng) if rng.random() < 0.5 else word), True
        if genre.name == "Hip-Hop" and r < 0.6:
            pattern = rng.randrange(6)
            noun = rng.choice(_NOUN)
            return (
                f"Lil {noun}",
                f"MC {rng.choice(_ADJ)}",
                f"DJ {rng.choice(_LAST_EN)}",
                f"Young {noun}",
                f"{noun} Da {rng.choice(_NOUN)}",
                f"{rng.choice('ABKNRTZ')}$AP {rng.choice(_NOUN)}",
            )[pattern], pattern == 5
        if r < 0.22:
            return (
                f"The {rng.choice(_PLURAL)}" if rng.random() < 0.5 else f"The {rng.choice(_ADJ)} {rng.choice(_PLURAL)}",
                True,
            )
        if r < 0.5:
            return f"{rng.choice(_FIRST_EN)} {rng.choice(_LAST_EN)}", False
        if r < 0.62:
            return f"{rng.choice(_ADJ)} {rng.choice(_NOUN)}", True
        if r < 0.68:
            return f"{rng.choice(_FIRST_EN)} {rng.choice(_LAST_EN)} & the {rng.choice(_PLURAL)}", True
        if r < 0.72:
            return f"{rng.choice(_FIRST_EN)} + the {rng.choice(_PLURAL)}", True
        if r < 0.75:
            a, b = rng.sample("ABCDGKLMNPRSTVXZ", 2)
            c, d = rng.sample("ABCDGKLMNPRSTVXZ", 2)
            return f"{a}{b}/{c}{d}", True
        if r < 0.77:
            return rng.choice(_SYMBOL_NAMES), True
        if r < 0.80:
            return f"{rng.choice(_NOUN)}! at the {rng.choice(_NOUN)}", True
        if r < 0.83:
            a, b, c = rng.sample(_NOUN, 3)
            return f"{a}, {b} & {c}", True
        if r < 0.86:
            return f"{rng.choice(_LAST_EN)} & {rng.choice(_LAST_EN)}", True
        if r < 0.88:
            return ".".join(rng.sample("ABCDEFGHIJKLMNOPRSTUVWY", 3)) + ".", True
        if r < 0.90:
            return f"{rng.choice(('10,000', '98°', '311', '808', '1/2', '99½'))} {rng.choice(_PLURAL)}", True
        if r < 0.92:
            return f"{rng.choice(_VERB)} You! {rng.choice(_ADJ)} {rng.choice(_NOUN)}", True
        if r < 0.94:
            return f"{rng.choice(_NOUN)} O)))", True
        return _invented_word(rng), rng.random() < 0.5

    def _song_title(self, locale: str) -> str:
        rng = self.rng
        if locale != "en" and rng.random() < 0.7:
            words = _LOCALES[locale][2]
            r = rng.random()
            if locale in {"es", "pt"} and r < 0.35:
                a, b = rng.sample(words, 2)
                return f"{a} {'de' if locale == 'es' else 'do'} {b}"
            if locale == "de" and r < 0.3:
                a, b = rng.sample(words, 2)
                return f"{a} und {b}"
            return rng.choice(words)
        r = rng.random()
        if r < 0.16:
            return rng.choice(_NOUN)
        if r < 0.36:
            return f"{rng.choice(_ADJ)} {rng.choice(_NOUN)}"
        if r < 0.46:
            return f"The {rng.choice(_NOUN)} of {rng.choice(_NOUN)}"
        if r < 0.58:
            return f"{rng.choice(_VERB)} {rng.choice(_OBJECT)}"
        if r < 0.68:
            return f"{rng.choice(_GERUND)} {rng.choice(_PREP)} the {rng.choice(_NOUN)}"
        if r < 0.72:
            return f"Song for {rng.choice(_FIRST_EN)}"
        if r < 0.76:
            return rng.choice(_FIRST_EN)
        if r < 0.79:
            return rng.choice(_PLACES)
        if r < 0.82:
            return f"Don't {rng.choice(_VERB)} {rng.choice(_OBJECT)}"
        if r < 0.85:
            return f"I {rng.choice(_VERB)} {rng.choice(_OBJECT)}"
        if r < 0.88:
            return rng.choice(_ADJ)
        if r < 0.91:
            return f"{rng.choice(_NOUN)}, Pt. {rng.choice(('1', '2', 'II', 'III'))}"
        if r < 0.93:
            return f"{rng.choice(_NOUN)} ({rng.choice(_ADJ)} {rng.choice(_NOUN)})"
        if r < 0.95:
            return rng.choice(_PARTS)
        if r < 0.97:
            return f"Café {rng.choice(_NOUN)}"
        return f"{rng.choice(_NOUN)} & {rng.choice(_NOUN)}"

    def _album_title(self, plan: _ArtistPlan, songs: list[_Song]) -> str:
        rng = self.rng
        r = rng.random()
        if r < 0.3 and songs:
            return rng.choice(songs).title
        if r < 0.35 and not plan.studio:
            return plan.artist.title
        if r < 0.4 and len(plan.studio) in {1, 2}:
            return f"{plan.artist.title} {_roman(len(plan.studio) + 1)}"
        if r < 0.55:
            return f"{rng.choice(_ADJ)} {rng.choice(_PLURAL)}"
        if r < 0.62:
            return f"Songs from the {rng.choice(_NOUN)}"
        return self._song_title(plan.locale)

    # -- artists and songs --

    def _new_artist(self) -> _ArtistPlan:
        rng = self.rng
        genre_idx = bisect(self.genre_weights, rng.random() * self.genre_weights[-1])
        genre = GENRES[genre_idx]
        locale = genre.locale if genre.locale and rng.random() < 0.7 else _pick_weighted(rng, _LOCALE_WEIGHTS)

        def make() -> str:
            name, self.last_is_band = self._artist_name(genre, locale)
            return name

        name = self._unique(make)
        is_band = self.last_is_band
        genres = [genre.name]
        if rng.random() < 0.3:
            genres.append(GENRES[bisect(self.genre_weights, rng.random() * self.genre_weights[-1])].name)
        genres = list(dict.fromkeys(genres))
        country = rng.choice(_LOCALE_COUNTRIES[locale])
        summary = ""
        if rng.random() < 0.5:
            what = "band" if is_band else rng.choice(("singer-songwriter", "musician", "producer", "singer"))
            summary = (
                f"{name} is a {genre.styles[rng.randrange(len(genre.styles))].lower()} {what} from "
                f"{country}, known for {rng.choice(genre.moods).lower()} records."
            )
        artist = Artist(
            id=self._id(),
            title=name,
            sort_title=name[4:] if name.startswith("The ") else None,
            genres=genres,
            styles=rng.sample(genre.styles, rng.randint(1, 3)),
            moods=rng.sample(genre.moods, rng.randint(2, 6)),
            countries=[country],
            summary=summary,
            guid=self._guid("artist"),
        )
        self.artists.append(artist)
        center = self._near(self.genre_centers[genre_idx], 0.55)
        # Heavy-tailed popularity: most artists are obscure, a few are huge.
        popularity = rng.paretovariate(1.1)
        plan = _ArtistPlan(artist, genre_idx, locale, popularity, center, rng.choice(self.labels))
        self.plans.append(plan)
        return plan

    def _new_song(self, plan: _ArtistPlan, album_center: list[float], taken: set[str], year: int) -> _Song:
        rng = self.rng
        title = self._song_title(plan.locale)
        for _ in range(20):
            if title.casefold() not in taken:
                break
            title = self._song_title(plan.locale)
        else:
            title = f"{title} ({_roman(len(taken) + 1)})"
        taken.add(title.casefold())
        genre = GENRES[plan.genre]
        featured: str | None = None
        if rng.random() < genre.feat and len(self.plans) > 1:
            other = self.plans[rng.randrange(len(self.plans))]
            featured = other.artist.title if other is not plan else None
        seconds = min(720.0, max(90.0, rng.lognormvariate(math.log(235 * genre.length), 0.33)))
        popularity = rng.lognormvariate(0, 1.0)
        song = _Song(title, plan, featured, rng.randrange(5), seconds, popularity, self._near(album_center, 0.3), year)
        plan.songs.append(song)
        return song

    # -- albums and tracks --

    def _release(self, year: int) -> tuple[str, int]:
        rng = self.rng
        last_month = self.now_month if year == self.now_year else 12
        month = rng.randint(1, last_month)
        day = rng.randint(1, 28)
        stamp = int(datetime(year, month, day, tzinfo=UTC).timestamp())
        return f"{year:04d}-{month:02d}-{day:02d}", min(stamp, self.now - 2 * _DAY)

    def _album(
        self,
        plan: _ArtistPlan | None,
        title: str,
        year: int | None,
        *,
        genre: int,
        kind: str,
        compilation: bool = False,
        label: str | None = None,
        like: Album | None = None,
    ) -> _AlbumInfo:
        """Add an album; ``like`` is the original of a re-issue, whose label and tags it keeps."""
        rng = self.rng
        g = GENRES[genre]
        if kind in {"album", "ep", "single"} and rng.random() < 0.02:
            year = None  # unmatched albums with untagged dates exist in every real library
        if year is None:
            date, release = None, self.created_at - 10 * _YEAR
        else:
            date, release = self._release(year)
        added = self._added_at(release)
        artist = plan.artist if plan else self._various()
        genres = [g.name] + ([GENRES[plan.genre].name] if plan and plan.genre != genre else [])
        if rng.random() < 0.15:
            genres.append(GENRES[bisect(self.genre_weights, rng.random() * self.genre_weights[-1])].name)
        summary = ""
        if rng.random() < 0.3:
            what = _KIND_SUMMARY[kind]
            summary = f"{what} released in {year} on {label}." if year and label else f"{what}."
        album = Album(
            id=self._id(),
            artist=artist.id,
            title=title,
            year=year,
            originally_available_at=date,
            studio=label,
            added_at=added,
            updated_at=added,
            genres=list(dict.fromkeys(genres)),
            styles=rng.sample(g.styles, rng.randint(1, 3)),
            moods=rng.sample(g.moods, rng.randint(2, 5)) + ([rng.choice(MOODS)] if rng.random() < 0.3 else []),
            compilation=compilation,
            summary=summary,
            guid=self._guid("album") if rng.random() < 0.95 else None,
        )
        album.moods = list(dict.fromkeys(album.moods))
        if album.guid is None and rng.random() < 0.7:
            album.studio = None  # the label comes with the agent's match; unmatched albums rarely have one tagged
        if like is not None:
            album.studio = like.studio
            album.genres, album.styles, album.moods = list(like.genres), list(like.styles), list(like.moods)
        if album.guid is None:
            album.guid = f"local://{album.id}"
        self.albums.append(album)
        info = _AlbumInfo(album, plan, genre, kind)
        self.infos.append(info)
        return info

    def _various(self) -> Artist:
        if self.various is None:
            self.various = Artist(id=self._id(), title=VARIOUS_ARTISTS, guid="plex://artist/5d07bbfc403c6402904a5ec5")
            self.names.add(VARIOUS_ARTISTS.casefold())
            self.artists.append(self.various)
        return self.various

    def _fill(self, info: _AlbumInfo, entries: Sequence[tuple[_Song, str, float, float]], discs: int) -> None:
        """Record ``entries`` (song, title, seconds, vector spread) as the album's tracks, over ``discs`` discs."""
        rng = self.rng
        entries = entries[: self.budget - len(self.tracks)]
        if not entries:
            # The budget ran out: take the album back (it is always the last one added) so no album is empty.
            self.albums.pop()
            self.infos.pop()
            self.next_id = info.album.id
            return
        album = info.album
        ext, container, codec, kbps, spread, _w = _FORMATS[bisect(_FORMAT_WEIGHTS, rng.random() * _FORMAT_WEIGHTS[-1])]
        mono = album.year is not None and album.year < 1966 and rng.random() < 0.4
        art_bytes = rng.randrange(20_000, 1_500_000)
        artist_name = (
            self.various.title
            if info.artist is None and self.various
            else (info.artist.artist.title if info.artist else "")
        )
        folder = f"{_path_part(album.title)} ({album.year})" if album.year else _path_part(album.title)
        base = f"{self.root}/{_path_part(artist_name)}/{folder}/"
        per_disc = math.ceil(len(entries) / discs)
        discs = math.ceil(len(entries) / per_disc)
        analysed_album = self.srng.random() < 0.97  # a few albums were added after the last analysis run
        moods_pool = album.moods
        rnd = rng.random
        srnd = self.srng.random
        step = 0
        last_added = album.added_at
        for pos, (song, title, seconds, spread_v) in enumerate(entries):
            disc, index = divmod(pos, per_disc)
            disc += 1
            index += 1
            duration = min(720_000, max(90_000, int(seconds * 1000) + int(rnd() * 1000)))
            bitrate = int(kbps * (1 + rng.uniform(-spread, spread))) if spread else kbps
            size = bitrate * 125 * duration // 1000 + art_bytes + int(rnd() * 4096)
            credit = _credit(song, info)
            shown_artist = f"{credit} - " if info.artist is None else ""
            folder_disc = f"CD{disc}/" if discs > 1 else ""
            file = f"{base}{folder_disc}{index:02d} - {_path_part(shown_artist + title)}.{ext}"
            tid = self._id()
            step += 1 + int(rnd() * 3)
            added = album.added_at + step
            last_added = added
            sonic: list[float] | None = None
            moods: list[str] = []
            if analysed_album and self.srng.random() < self.sonic_fraction:
                sonic = [round(x, 4) for x in self._unit(self._near(song.vector, spread_v))]
                first = int(srnd() * len(moods_pool))
                moods = (moods_pool[first:] + moods_pool[:first])[: 1 + int(srnd() * 3)]
            popularity = song.artist.popularity * song.popularity
            matched = album.guid is not None and not album.guid.startswith("local://")
            track = Track(
                id=tid,
                album=album.id,
                title=title,
                disc=disc,
                index=index,
                duration=duration,
                original_title=credit,
                file=file,
                size=size,
                container=container,
                audio_codec=codec,
                bitrate=bitrate,
                audio_channels=1 if mono else 2,
                added_at=added,
                updated_at=added,
                genres=[album.genres[0]] if rng.random() < 0.7 else [],
                moods=moods,
                rating_count=int(popularity * 4000) + int(rnd() * 50) if matched and rng.random() < 0.9 else None,
                sonic=sonic,
                guid=self._guid("track") if matched else f"local://{tid}",
            )
            self.tracks.append(track)
            info.tracks.append(len(self.tracks) - 1)
            self.track_artist.append(song.artist)
            self.track_song.append(song)
            self.track_genre.append(info.genre)
        # Plex refreshes metadata now and then: some items were updated well after they were added.
        album.updated_at = last_added
        if rng.random() < 0.3:
            album.updated_at = min(self.now, last_added + rng.randrange(_YEAR))
            for i in info.tracks[-rng.randint(1, len(info.tracks)) :]:
                self.tracks[i].updated_at = album.updated_at

    def _studio(self, plan: _ArtistPlan, year: int) -> None:
        rng = self.rng
        r = rng.random()
        if r < 0.12:
            kind, count, discs = "single", rng.randint(1, 3), 1
        elif r < 0.27:
            kind, count, discs = "ep", rng.randint(3, 6), 1
        elif r < 0.9:
            kind, count, discs = "album", rng.randint(8, 16), 1
        elif r < 0.95:
            kind, count, discs = "album", rng.randint(18, 26), 2
        else:
            kind, count, discs = "deluxe", rng.randint(20, 30), 2
        album_center = self._near(plan.center, 0.25)
        taken = {s.title.casefold() for s in plan.songs}
        core = count if kind != "deluxe" else count - rng.randint(4, 9)
        songs = [self._new_song(plan, album_center, taken, year) for _ in range(1 if kind == "single" else core)]
        if kind == "single":
            title = songs[0].title
        else:
            title = self._unique_album_title(plan, lambda: self._album_title(plan, songs))
            if kind == "ep" and rng.random() < 0.5:
                title = f"{title} EP"
        if kind == "deluxe":
            title = rng.choice(_DELUXE).format(t=title)
        info = self._album(plan, title, year, genre=plan.genre, kind=kind, label=plan.label)
        entries: list[tuple[_Song, str, float, float]] = [(s, _feat_title(s), s.seconds, 0.0) for s in songs]
        if kind == "single":
            song = songs[0]
            for fmt in rng.sample(_SINGLE_EXTRA, count - 1):
                entries.append((song, fmt.format(t=song.title), song.seconds * rng.uniform(0.8, 1.6), 0.06))
        elif kind == "deluxe":
            for song in rng.sample(songs, min(len(songs), count - len(songs))):
                bonus = rng.choice(_BONUS_TRACK).format(t=song.title)
                entries.append((song, bonus, song.seconds * rng.uniform(0.85, 1.2), 0.08))
        self._fill(info, entries, discs)
        if kind in {"album", "deluxe"}:
            plan.studio.append((info.album, songs))

    def _unique_album_title(self, plan: _ArtistPlan, make: Callable[[], str]) -> str:
        taken = {a.title.casefold() for a, _songs in plan.studio}
        title = make()
        for _ in range(10):
            if title.casefold() not in taken:
                return title
            title = make()
        return f"{title} {_roman(len(plan.studio) + 1)}"

    def _variants(self, plan: _ArtistPlan, last_year: int) -> None:
        """Remasters, deluxe re-issues, live albums and best-ofs of an artist: the same songs on several albums."""
        rng = self.rng
        for album, songs in list(plan.studio):
            year = album.year or last_year
            if year <= self.now_year - 12 and rng.random() < 0.14:
                ryear = rng.randint(max(year + 10, 1990), self.now_year)
                title = rng.choice(_REMASTER_ALBUM).format(t=album.title, y=ryear)
                info = self._album(plan, title, ryear, genre=plan.genre, kind="remaster", like=album)
                fmt = rng.choice(_REMASTER_TRACK)
                remastered = [
                    (s, fmt.format(t=_feat_title(s), y=ryear), s.seconds + rng.uniform(-0.6, 0.6), 0.01) for s in songs
                ]
                self._fill(info, remastered, 1)
            elif rng.random() < 0.05 and not album.title.endswith(")"):
                title = rng.choice(_DELUXE).format(t=album.title)
                ryear = min(self.now_year, year + rng.randint(1, 20))
                info = self._album(plan, title, ryear, genre=plan.genre, kind="deluxe", like=album)
                entries = [(s, _feat_title(s), s.seconds, 0.01) for s in songs]
                entries += [
                    (s, rng.choice(_BONUS_TRACK).format(t=s.title), s.seconds * rng.uniform(0.85, 1.2), 0.08)
                    for s in rng.sample(songs, min(len(songs), rng.randint(4, 10)))
                ]
                self._fill(info, entries, 2)
        if len(plan.songs) >= 8 and rng.random() < 0.2:
            year = min(self.now_year, last_year + rng.randint(0, 3))
            r = rng.random()
            if r < 0.5:
                title = f"Live at {rng.choice(_VENUES)}"
            elif r < 0.8:
                title = (
                    f"Live in {rng.choice(_PLACES)} {year}" if rng.random() < 0.5 else f"Live in {rng.choice(_PLACES)}"
                )
            else:
                title = f"Alive in {rng.choice(_PLACES)}"
            count = min(len(plan.songs), rng.randint(10, 22))
            songs = _sample_weighted(rng, plan.songs, [s.popularity for s in plan.songs], count)
            fmt = rng.choice(_LIVE_TRACK)
            entries = [(s, fmt.format(t=s.title), min(900.0, s.seconds * rng.uniform(1.05, 1.45)), 0.12) for s in songs]
            info = self._album(plan, title, year, genre=plan.genre, kind="live", label=plan.label)
            self._fill(info, entries, 2 if count > 16 else 1)
        if len(plan.studio) >= 3 and rng.random() < 0.3:
            years = [a.year for a, _s in plan.studio if a.year]
            y0, y1 = (min(years), max(years)) if years else (last_year, last_year)
            year = min(self.now_year, y1 + rng.randint(1, 5))
            title = rng.choice(_BEST_OF).format(a=plan.artist.title, y0=y0, y1=y1)
            count = min(len(plan.songs), rng.randint(12, 20))
            songs = _sample_weighted(rng, plan.songs, [s.popularity for s in plan.songs], count)
            songs.sort(key=plan.songs.index)
            info = self._album(plan, title, year, genre=plan.genre, kind="best-of", label=plan.label)
            self._fill(info, [(s, _feat_title(s), s.seconds, 0.01) for s in songs], 1)

    def _compilation(self) -> None:
        """A "Various Artists" compilation of existing songs (original_title carries each track artist)."""
        rng = self.rng
        anchor = self.plans[rng.randrange(len(self.plans))]
        pool = [p for p in self.plans if p.genre == anchor.genre and p.songs] or [p for p in self.plans if p.songs]
        if not pool:
            return
        genre = GENRES[anchor.genre]
        count = rng.randint(12, 20) if rng.random() < 0.8 else rng.randint(28, 40)
        entries: list[tuple[_Song, str, float, float]] = []
        seen: set[int] = set()
        for _ in range(count * 3):
            plan = pool[rng.randrange(len(pool))]
            song = plan.songs[rng.randrange(len(plan.songs))]
            if id(song) in seen:
                continue
            seen.add(id(song))
            entries.append((song, _feat_title(song), song.seconds + rng.uniform(-0.6, 0.6), 0.01))
            if len(entries) == count:
                break
        years = sorted(e[0].year for e in entries)
        # A compilation comes out after its newest song; "the sound of" a decade is where most of its songs are.
        year = min(self.now_year, years[-1] + rng.randint(0, 4))
        r = rng.random()
        if r < 0.25:
            title = f"{genre.name} Classics" + (f", Vol. {rng.randint(1, 5)}" if rng.random() < 0.5 else "")
        elif r < 0.45:
            title = f"The Sound of the {years[len(years) // 2] // 10 * 10 % 100:02d}s"
        elif r < 0.6:
            title = f"Summer Hits {year}"
        elif r < 0.75:
            title = f"{rng.choice(_ADJ)} {rng.choice(_PLURAL)}: A {genre.name} Collection"
        elif r < 0.87:
            title = f"{self._song_title('en')} (Original Motion Picture Soundtrack)"
        else:
            title = f"Pure {genre.name}"
        if title.casefold() in self.compilation_titles:
            title = f"{title} {_roman(len(self.compilation_titles) + 1)}"
        self.compilation_titles.add(title.casefold())
        info = self._album(
            None, title, year, genre=anchor.genre, kind="compilation", compilation=True, label=rng.choice(self.labels)
        )
        self._fill(info, entries, 2 if len(entries) > 24 else 1)

    def build(self) -> None:
        rng = self.rng
        while len(self.tracks) < self.budget:
            if len(self.plans) >= 5 and rng.random() < 0.12:
                self._compilation()
                continue
            plan = self._new_artist()
            year = min(self.now_year, int(rng.triangular(1960, self.now_year + 1, 2005)))
            releases = min(int(rng.paretovariate(2.0)), 15)
            last_year = year
            for _ in range(releases):
                if len(self.tracks) >= self.budget or year > self.now_year:
                    break
                if rng.random() < 0.15:
                    self._studio_small(plan, year)
                self._studio(plan, year)
                last_year = year
                year += 1 + int(rng.expovariate(0.6))
            if len(self.tracks) < self.budget:
                self._variants(plan, last_year)
        # Artists' dates follow their albums.
        first: dict[int, int] = {}
        last: dict[int, int] = {}
        for album in self.albums:
            first[album.artist] = min(first.get(album.artist, album.added_at), album.added_at)
            last[album.artist] = max(last.get(album.artist, album.updated_at), album.updated_at)
        for artist in self.artists:
            artist.added_at = first.get(artist.id, self.created_at)
            artist.updated_at = last.get(artist.id, artist.added_at)

    def _studio_small(self, plan: _ArtistPlan, year: int) -> None:
        """An EP or single released alongside an LP (counted apart from the main discography)."""
        rng = self.rng
        album_center = self._near(plan.center, 0.25)
        taken = {s.title.casefold() for s in plan.songs}
        songs = [self._new_song(plan, album_center, taken, year) for _ in range(rng.randint(1, 5))]
        title = songs[0].title if len(songs) == 1 else f"{self._album_title(plan, songs)} EP"
        info = self._album(
            plan, title, year, genre=plan.genre, kind="single" if len(songs) == 1 else "ep", label=plan.label
        )
        self._fill(info, [(s, _feat_title(s), s.seconds, 0.0) for s in songs], 1)


_FEMALE = frozenset(
    _words(
        "Åsa|Sigrún|Märta|Ingrid|Freyja|Ólöf|Sæunn|Dagný|Мария|Анна|Ольга|Наталья|Алёна|Ксения|Μαρία|Ελένη|Σοφία|"
        "Αθηνά|Ειρήνη"
    )
)
#: Nordic family names that are patronymic stems (Icelandic: -sson for men, -sdóttir / -dóttir for women).
_PATRONYMIC = frozenset(_words("Ólaf|Þór|Hákonar|Jón"))


def _person(locale: str, first: str, last: str) -> str:
    """A personal name whose family name agrees with the first name's gender where the language marks it."""
    female = first in _FEMALE
    if locale == "ru" and female:
        last += "а"
    elif locale == "nordic" and last in _PATRONYMIC:
        last += (
            ("dóttir" if last.endswith("ar") else "sdóttir") if female else ("son" if last.endswith("ar") else "sson")
        )
    return f"{first} {last}"


def _feat_title(song: _Song) -> str:
    """The title as tagged: some taggers put the featured artist into the title, others into the artist."""
    if song.featured is None:
        return song.title
    return (
        f"{song.title} (feat. {song.featured})",
        song.title,
        f"{song.title} (ft. {song.featured})",
        song.title,
        f"{song.title} [feat. {song.featured}]",
    )[song.feat_form]


def _credit(song: _Song, info: _AlbumInfo) -> str | None:
    """Plex's ``originalTitle``: the track artist when it differs from the album artist."""
    name = song.artist.artist.title
    if song.featured is not None:
        joiner = (None, " feat. ", " ft. ", " featuring ", " & ")[song.feat_form]
        if joiner is not None:
            name = f"{name}{joiner}{song.featured}"
    if info.artist is not None and name == info.artist.artist.title:
        return None
    return name


def _path_part(name: str) -> str:
    """A path component as taggers write it: illegal characters replaced, no trailing dots or spaces."""
    part = name.translate(_ILLEGAL_PATH).rstrip(". ")
    return part.lstrip(".") or "_"


def _roman(n: int) -> str:
    out = ""
    for value, digits in ((1000, "M"), (900, "CM"), (500, "D"), (400, "CD"), (100, "C"), (90, "XC"), (50, "L"),
                          (40, "XL"), (10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I")):  # fmt: skip
        count, n = divmod(n, value)
        out += digits * count
    return out


def _umlaut(word: str, rng: random.Random) -> str:
    spots = [i for i, c in enumerate(word) if c in _UMLAUT and i > 0]
    if not spots:
        return word
    i = rng.choice(spots)
    return word[:i] + _UMLAUT[word[i]] + word[i + 1 :]


def _nordic_word(rng: random.Random) -> str:
    head = rng.choice(("Bjö", "Sól", "Hjal", "Vök", "Dís", "Glo", "Svan", "Þór", "Hraf", "Ský", "Jök", "Fjör", "Ásg"))
    tail = rng.choice(("rk", "ur", "a", "ín", "dís", "hildur", "í", "ól", "ar", "ey", "úð", "ný"))
    return head + tail


def _invented_word(rng: random.Random) -> str:
    syllables = ("ka", "lo", "mi", "zu", "ra", "ve", "no", "tai", "shi", "el", "an", "or", "qu", "ix", "yo", "bre")
    word = "".join(rng.choice(syllables) for _ in range(rng.randint(2, 3)))
    return word.capitalize()


def _pick_weighted(rng: random.Random, options: Sequence[tuple[str, float]]) -> str:
    total = sum(w for _o, w in options)
    x = rng.random() * total
    for option, weight in options:
        x -= weight
        if x < 0:
            return option
    return options[-1][0]


def _sample_weighted(rng: random.Random, items: Sequence[_T], weights: Sequence[float], k: int) -> list[_T]:
    """``k`` distinct items, each drawn with probability proportional to its weight (Efraimidis-Spirakis)."""
    if k >= len(items):
        return list(items)
    r = rng.random
    keys = [r() ** (1.0 / max(w, 1e-9)) for w in weights]
    return [items[i] for i in heapq.nlargest(k, range(len(items)), key=keys.__getitem__)]


# --- listeners -------------------------------------------------------------------------------------------------

_RATING_LOVED = ((10, 9, 8), (60, 15, 25))
_RATING_PLAYED = ((10, 9, 8, 7, 6, 5, 4), (20, 8, 35, 8, 20, 4, 5))
_RATING_OTHER = ((10, 9, 8, 7, 6, 5, 4, 3, 2, 1), (8, 3, 22, 6, 26, 5, 14, 3, 9, 4))
_ALBUM_KIND_WEIGHT = {"album": 3.0, "deluxe": 3.0, "remaster": 2.0, "best-of": 2.0, "live": 1.0, "ep": 1.0,
                      "single": 0.5, "compilation": 1.0}  # fmt: skip
_MOOD_THEMES = (
    ("Rainy Day", ("Melancholy", "Wistful", "Sad", "Autumnal", "Introspective")),
    ("Late Night", ("Nocturnal", "Sensual", "Atmospheric", "Laid-Back/Mellow", "Hypnotic")),
    ("Workout", ("Energetic", "Aggressive", "Euphoric", "Rousing", "Fiery")),
    ("Sunday Morning", ("Calm/Peaceful", "Gentle", "Warm", "Laid-Back/Mellow", "Reflective")),
    ("Road Trip", ("Carefree", "Rousing", "Uplifting", "Confident", "Lively")),
    ("Dinner Party", ("Sophisticated", "Elegant", "Warm", "Romantic", "Intimate")),
    ("Focus", ("Cerebral", "Hypnotic", "Atmospheric", "Spacey", "Calm/Peaceful")),
    ("Party Time", ("Celebratory", "Exuberant", "Playful", "Happy", "Joyous")),
    ("Heartbreak", ("Bittersweet", "Yearning", "Poignant", "Sad", "Sentimental")),
    ("Good Mood", ("Cheerful", "Happy", "Joyous", "Sparkling", "Uplifting")),
)
_GENRE_TITLES = ("{g} Essentials", "Best of {g}", "{g} Mix", "My {g}", "{g} Deep Cuts", "Evening {g}")
_DECADE_TITLES = ("{d}s Favourites", "Best of the {d}s", "Back to the {d}s", "{d}s Mix")
_SMART: tuple[tuple[str, str], ...] = (
    ("Five Stars", "type=10&track.userRating>>=9&sort=track.lastViewedAt:desc"),
    ("Top Rated", "type=10&track.userRating>>=7&sort=track.userRating:desc&limit=200"),
    ("Recently Added", "type=10&track.addedAt>>=-30d&sort=track.addedAt:desc&limit=100"),
    ("Most Played", "type=10&track.viewCount>>=4&sort=track.viewCount:desc&limit=100"),
    ("Recently Played", "type=10&track.lastViewedAt>>=-7d&sort=track.lastViewedAt:desc"),
    ("Forgotten Favourites",
     "type=10&track.userRating>>=7&track.lastViewedAt<<=-1y&sort=track.lastViewedAt:asc&limit=100"),
    ("{d}s Gems", "type=10&album.decade={d}&track.userRating>>=5&sort=track.userRating:desc"),
    ("Epic Tracks", "type=10&track.duration>>=480000&sort=track.duration:desc&limit=50"),
    ("Often Skipped", "type=10&track.skipCount>>=2&sort=track.skipCount:desc"),
)  # fmt: skip


class _Index:
    """Lookups over the finished catalogue shared by every listener."""

    def __init__(self, cat: _Catalogue) -> None:
        self.cat = cat
        pos = {id(p): i for i, p in enumerate(cat.plans)}
        self.track_plan = [pos[id(p)] for p in cat.track_artist]
        self.plan_tracks: list[list[int]] = [[] for _ in cat.plans]
        for t, p in enumerate(self.track_plan):
            self.plan_tracks[p].append(t)
        self.plan_albums: list[list[_AlbumInfo]] = [[] for _ in cat.plans]
        self.compilations: list[_AlbumInfo] = []
        self.track_album: list[int] = [0] * len(cat.tracks)
        for a, info in enumerate(cat.infos):
            for t in info.tracks:
                self.track_album[t] = a
            if not info.tracks:
                continue
            if info.artist is None:
                self.compilations.append(info)
            else:
                self.plan_albums[pos[id(info.artist)]].append(info)
        self.genre_tracks: list[list[int]] = [[] for _ in GENRES]
        for t, g in enumerate(cat.track_genre):
            self.genre_tracks[g].append(t)
        self.mood_tracks: dict[str, list[int]] = {}
        self.decade_tracks: dict[int, list[int]] = {}
        for info in cat.infos:
            for mood in info.album.moods:
                self.mood_tracks.setdefault(mood, []).extend(info.tracks)
            if info.album.year:
                self.decade_tracks.setdefault(info.album.year // 10 * 10, []).extend(info.tracks)
        self.added = [t.added_at for t in cat.tracks]
        self.seconds = [t.duration // 1000 for t in cat.tracks]


class _Listener:
    """One account's taste, listening history, ratings and playlists."""

    def __init__(self, index: _Index, *, account_id: int, name: str, seed: int, admin: bool) -> None:
        self.ix = index
        self.cat = index.cat
        self.account_id = account_id
        self.name = name
        self.rng = random.Random(f"plexsim-listener:{seed}:{account_id}")
        rng = self.rng
        taste = [g.weight * (0.05 + rng.random() ** 2) for g in GENRES]
        for g in rng.sample(range(len(GENRES)), 3):
            taste[g] *= 8
        self.genre_taste = taste
        self.genre_cum = list(accumulate(taste))
        plans = self.cat.plans
        weights = [taste[p.genre] * p.popularity**0.6 if index.plan_tracks[i] else 0.0 for i, p in enumerate(plans)]
        favourites = _sample_weighted(rng, range(len(plans)), weights, max(1, len(plans) // 40))
        for i in favourites:
            weights[i] *= 6
        self.artist_weight = weights
        self.artist_cum = list(accumulate(weights))
        tracks = self.cat.tracks
        n_loved = max(3, len(tracks) // 50)
        loved_weights = [weights[index.track_plan[t]] * self.cat.track_song[t].popularity for t in range(len(tracks))]
        self.loved = _sample_weighted(rng, range(len(tracks)), loved_weights, min(n_loved, len(tracks)))
        self.loved_set = set(self.loved)
        self.tz = rng.choice((-8, -5, -3, 0, 1, 2, 9)) * 3600
        self.devices = 3 if admin else rng.randint(1, 2)
        self.half_stars = admin or rng.random() < 0.5
        self.rated_fraction = rng.uniform(0.15, 0.25) if admin else rng.uniform(0.04, 0.12)
        # Per track: plays, first play, last play, skips.
        self.plays: dict[int, list[int]] = {}
        self.history: list[tuple[int, int, int]] = []  # (viewed_at, track index, device)
        self.track_rating: dict[int, float] = {}

    def _artist(self) -> int:
        return bisect(self.artist_cum, self.rng.random() * self.artist_cum[-1])

    def _session(self) -> tuple[list[int], float]:
        """Pick the tracks of one listening session and its skip probability."""
        rng, ix = self.rng, self.ix
        r = rng.random()
        if r < 0.4:
            if ix.compilations and rng.random() < 0.06:
                info = ix.compilations[rng.randrange(len(ix.compilations))]
            else:
                albums = ix.plan_albums[self._artist()]
                if not albums:
                    return [], 0.0
                info = albums[0]
                total = sum(_ALBUM_KIND_WEIGHT[a.kind] for a in albums)
                x = rng.random() * total
                for a in albums:
                    x -= _ALBUM_KIND_WEIGHT[a.kind]
                    if x < 0:
                        info = a
                        break
            picked = list(info.tracks)
            if rng.random() < 0.25:
                picked = picked[: rng.randint(1, len(picked))]
            return picked, 0.03
        if r < 0.65:
            pool = ix.plan_tracks[self._artist()]
            return rng.sample(pool, min(len(pool), rng.randint(5, 20))), 0.1
        if r < 0.85:
            return rng.sample(self.loved, min(len(self.loved), rng.randint(10, 30))), 0.05
        genre = bisect(self.genre_cum, rng.random() * self.genre_cum[-1])
        pool = ix.genre_tracks[genre]
        return [pool[rng.randrange(len(pool))] for _ in range(rng.randint(8, 25) if pool else 0)], 0.15

    def listen(self, quota: int) -> None:
        """Generate exactly ``quota`` plays as listening sessions over the last three years."""
        rng, ix, now = self.rng, self.ix, self.cat.now
        start = max(now - _HISTORY_SPAN, self.cat.created_at)
        plays = self.plays
        history = self.history
        failures = 0
        device_cum = list(accumulate((6, 3, 1)[: self.devices]))
        rnd = rng.random
        while len(history) < quota and failures < 10_000:
            picked, skip_p = self._session()
            if not picked:
                failures += 1
                continue
            lo = max(start, max(ix.added[t] for t in picked)) + 60
            length = sum(ix.seconds[t] for t in picked) + 5 * len(picked)
            hi = now - length - 60
            if lo > hi:
                failures += 1
                continue
            day = rng.randrange((lo + self.tz) // _DAY, (hi + self.tz) // _DAY + 1)
            hour = bisect(_HOUR_WEIGHTS, rng.random() * _HOUR_WEIGHTS[-1])
            t = day * _DAY - self.tz + hour * 3600 + rng.randrange(3600)
            if not lo <= t <= hi:
                t = rng.randint(lo, hi)
            device = 1 + bisect(device_cum, rng.random() * device_cum[-1])
            for track in picked:
                seconds = ix.seconds[track]
                state = plays.get(track)
                if state is None:
                    state = plays[track] = [0, 0, 0, 0]
                if rnd() < skip_p:
                    state[3] += 1
                    t += 5 + int(rnd() * 36)
                    continue
                viewed = t + seconds * 19 // 20  # Plex scrobbles near the end of the track
                if state[0] == 0:
                    state[1] = viewed
                state[0] += 1
                state[2] = max(state[2], viewed)
                history.append((viewed, track, device))
                t += seconds + int(rnd() * 6)
                if len(history) == quota:
                    break
        history.sort()

    def rate(self) -> list[Rating]:
        """Rate a share of the tracks, favouring loved and much-played ones; some albums and artists too."""
        rng, cat, now = self.rng, self.cat, self.cat.now
        tracks = cat.tracks
        n = round(self.rated_fraction * len(tracks))
        weights = [
            1.0 + 2 * min(self.plays.get(t, (0,))[0], 10) + (12 if t in self.loved_set else 0)
            for t in range(len(tracks))
        ]
        chosen = _sample_weighted(rng, range(len(tracks)), weights, n)
        out: list[Rating] = []
        for t in chosen:
            state = self.plays.get(t)
            played = state[0] if state else 0
            values, w = _RATING_LOVED if t in self.loved_set else _RATING_PLAYED if played >= 5 else _RATING_OTHER
            value = rng.choices(values, w)[0]
            if not self.half_stars and value % 2:
                value += 1 if rng.random() < 0.5 or value == 1 else -1
            lo = state[1] if state and played else tracks[t].added_at
            rated_at = rng.randint(lo, now - 60) if lo < now - 60 else now - 60
            self.track_rating[t] = float(value)
            out.append(Rating(key=tracks[t].id, rating=float(value), rated_at=rated_at))
        # Album and artist ratings: a few of the ones listened to most, echoing the track ratings under them.
        album_plays: dict[int, list[int]] = {}
        for t, state in self.plays.items():
            if state[0]:
                album_plays.setdefault(self.ix.track_album[t], []).append(t)
        heard = [a for a, ts in sorted(album_plays.items()) if len(ts) >= 3]
        for a in _sample_weighted(rng, heard, [len(album_plays[a]) for a in heard], len(heard) // 8):
            info = cat.infos[a]
            rated = [self.track_rating[t] for t in info.tracks if t in self.track_rating]
            value = round(sum(rated) / len(rated)) if rated else rng.choice((6, 8, 8, 10))
            last = max(self.plays[t][2] for t in album_plays[a])
            out.append(
                Rating(key=info.album.id, rating=float(value), rated_at=rng.randint(last, now) if last < now else now)
            )
        plan_plays: dict[int, int] = {}
        for t, state in self.plays.items():
            plan_plays[self.ix.track_plan[t]] = plan_plays.get(self.ix.track_plan[t], 0) + state[0]
        heard_artists = [p for p, c in sorted(plan_plays.items()) if c >= 3]
        for p in _sample_weighted(rng, heard_artists, [plan_plays[p] for p in heard_artists], len(heard_artists) // 20):
            artist = cat.plans[p].artist
            value = rng.choice((6, 8, 8, 10, 10))
            out.append(Rating(key=artist.id, rating=float(value), rated_at=rng.randint(artist.added_at, now)))
        out.sort(key=lambda r: (r.rated_at, r.key))
        return out

    def play_states(self) -> list[PlayState]:
        tracks = self.cat.tracks
        return [
            PlayState(key=tracks[t].id, view_count=s[0], last_viewed_at=s[2] if s[0] else None, skip_count=s[3])
            for t, s in sorted(self.plays.items())
        ]

    def history_entries(self) -> list[HistoryEntry]:
        tracks = self.cat.tracks
        return [HistoryEntry(tracks[t].id, v, d) for v, t, d in self.history]

    def playlists(self, count: int, next_id: Callable[[], int]) -> list[Playlist]:
        rng, ix, cat = self.rng, self.ix, self.cat
        now = cat.now
        section = Section()
        if not cat.tracks:
            return []
        weight = [
            1.0
            + min(self.plays.get(t, (0,))[0], 20)
            + (4 if self.track_rating.get(t, 0) >= 8 else 0)
            + self.artist_weight[ix.track_plan[t]] / (self.artist_cum[-1] or 1.0) * 500
            for t in range(len(cat.tracks))
        ]
        titles: set[str] = set()
        out: list[Playlist] = []
        smart_used: set[int] = set()
        for n in range(count):
            r = rng.random()
            smart = (r < 0.15 or (n == 2 and self.account_id == 1)) and len(smart_used) < len(_SMART)
            added = rng.randint(max(cat.created_at, now - _HISTORY_SPAN), now - _DAY)
            if smart:
                choice = rng.choice([i for i in range(len(_SMART)) if i not in smart_used])
                smart_used.add(choice)
                decade = rng.choice(sorted(ix.decade_tracks)) if ix.decade_tracks else 2000
                title, query = (s.replace("{d}", str(decade)) for s in _SMART[choice])
                title = _unique_title(title, titles)
                out.append(
                    Playlist(
                        id=next_id(),
                        title=title,
                        smart=True,
                        query=f"/library/sections/{section.id}/all?{query}",
                        added_at=added,
                        updated_at=added,
                    )
                )
                continue
            title, pool, summary = self._theme(r)
            title = _unique_title(title, titles)
            size = int(math.exp(rng.uniform(math.log(10), math.log(200))))
            if len(pool) > 3000:
                pool = rng.sample(pool, 3000)
            pool = list(dict.fromkeys(pool))
            items = _sample_weighted(rng, pool, [weight[t] for t in pool], size)
            if len(items) < min(10, len(cat.tracks)):
                extra = [t for t in _sample_weighted(rng, range(len(cat.tracks)), weight, 40) if t not in set(items)]
                items += extra[: 10 - len(items)]
            rng.shuffle(items)
            if rng.random() < 0.1 and len(items) > 2:
                # People do add the same track twice; Plex keeps both entries.
                items.insert(rng.randrange(len(items)), items[rng.randrange(len(items))])
            newest = max(ix.added[t] for t in items)
            created = max(added, newest)
            updated = min(now, created + rng.randrange(30 * _DAY))
            out.append(
                Playlist(
                    id=next_id(),
                    title=title,
                    items=[cat.tracks[t].id for t in items],
                    summary=summary,
                    added_at=min(added, created),
                    updated_at=updated,
                )
            )
        return out

    def _theme(self, r: float) -> tuple[str, list[int], str]:
        rng, ix, cat = self.rng, self.ix, self.cat
        if r < 0.4:
            genre = bisect(self.genre_cum, rng.random() * self.genre_cum[-1])
            return rng.choice(_GENRE_TITLES).format(g=GENRES[genre].name), ix.genre_tracks[genre], ""
        if r < 0.55:
            title, moods = rng.choice(_MOOD_THEMES)
            pool = [t for m in moods for t in ix.mood_tracks.get(m, ())]
            return title, pool, f"{', '.join(moods[:3])}."
        if r < 0.7 and ix.decade_tracks:
            decade = rng.choice(sorted(ix.decade_tracks))
            return rng.choice(_DECADE_TITLES).format(d=decade), ix.decade_tracks[decade], ""
        if r < 0.9:
            first = self._artist()
            plan = cat.plans[first]
            similar = [i for i, p in enumerate(cat.plans) if p.genre == plan.genre and i != first and ix.plan_tracks[i]]
            others = rng.sample(similar, min(3, len(similar)))
            pool = list(ix.plan_tracks[first]) + [t for i in others for t in ix.plan_tracks[i]]
            name = plan.artist.title
            title = rng.choice((f"This Is {name}", f"{name} & Friends", f"{name} Radio", f"Mostly {name}"))
            return title, pool, ""
        return rng.choice(("Liked Songs", "Favourites", "★★★★★", "Heavy Rotation")), list(self.loved), ""


def _unique_title(title: str, taken: set[str]) -> str:
    n = 2
    candidate = title
    while candidate.casefold() in taken:
        candidate = f"{title} {n}"
        n += 1
    taken.add(candidate.casefold())
    return candidate


def _shares(total: int, weights: Sequence[float]) -> list[int]:
    """Split ``total`` into integer parts proportional to ``weights`` that add up exactly."""
    whole = sum(weights)
    parts = [int(total * w / whole) for w in weights]
    for i in range(total - sum(parts)):
        parts[i % len(parts)] += 1
    return parts


def generate_library(
    *,
    tracks: int,
    seed: int,
    accounts: int = 3,
    plays: int | None = None,
    playlists: int | None = None,
    sonic_fraction: float = 0.9,
    sonic_dims: int = 16,
    now: int = 1_764_000_000,
) -> Library:
    """Build a realistic library of exactly ``tracks`` tracks, the same for the same arguments on every machine.

    ``accounts`` accounts (account 1 is the admin, token :data:`ADMIN_TOKEN`; the others are alice, bob, ... with
    tokens ``plexsim-<name>-token``) share ``plays`` history entries (default ``3 * tracks``; the admin gets the
    largest share) and ``playlists`` playlists (default between ``2 * accounts`` and 60, growing with the library).
    ``sonic_fraction`` of the tracks (about) carry a ``sonic_dims``-dimensional unit vector. ``now`` is the
    generation time in epoch seconds: every timestamp lies before it.
    """
    if tracks < 1:
        raise ValueError(f"tracks must be at least 1, got {tracks}")
    if accounts < 1:
        raise ValueError(f"accounts must be at least 1 (the admin), got {accounts}")
    if plays is not None and plays < 0:
        raise ValueError(f"plays must not be negative, got {plays}")
    if playlists is not None and playlists < 0:
        raise ValueError(f"playlists must not be negative, got {playlists}")
    if not 0.0 <= sonic_fraction <= 1.0:
        raise ValueError(f"sonic_fraction must be within 0..1, got {sonic_fraction}")
    if sonic_dims < 1:
        raise ValueError(f"sonic_dims must be at least 1, got {sonic_dims}")
    if now < 1_200_000_000:
        raise ValueError(f"now must be an epoch time after 2008, got {now}")
    cat = _Catalogue(tracks=tracks, seed=seed, sonic_fraction=sonic_fraction, sonic_dims=sonic_dims, now=now)
    cat.build()
    index = _Index(cat)
    total_plays = 3 * tracks if plays is None else plays
    total_playlists = min(60, max(2 * accounts, tracks // 60)) if playlists is None else playlists
    rng = random.Random(f"plexsim-accounts:{seed}")
    share_weights = [1.0] if accounts == 1 else [0.7 * (accounts - 1) if accounts == 2 else 1.25 * (accounts - 1)]
    share_weights += [rng.uniform(0.5, 1.5) for _ in range(accounts - 1)]
    play_quota = _shares(total_plays, share_weights)
    playlist_quota = _shares(total_playlists, share_weights)
    used_ids: set[int] = set()
    out: list[Account] = []
    for n in range(accounts):
        account_id = 1 if n == 0 else rng.randrange(10_000_000, 99_999_999)
        while account_id in used_ids:
            account_id = rng.randrange(10_000_000, 99_999_999)
        used_ids.add(account_id)
        name = _ACCOUNT_NAMES[n] if n < len(_ACCOUNT_NAMES) else f"user{n + 1}"
        listener = _Listener(index, account_id=account_id, name=name, seed=seed, admin=n == 0)
        listener.listen(play_quota[n])
        ratings = listener.rate()
        lists = listener.playlists(playlist_quota[n], cat._id)
        out.append(
            Account(
                id=account_id,
                name=name,
                tokens=[account_token(name, account_id)],
                ratings=ratings,
                plays=listener.play_states(),
                history=listener.history_entries(),
                playlists=lists,
                thumb=f"https://plex.tv/users/{rng.getrandbits(64):016x}/avatar?c={now - rng.randrange(_YEAR)}",
            )
        )
    section = Section(created_at=cat.created_at)
    return Library(section=section, artists=cat.artists, albums=cat.albums, tracks=cat.tracks, accounts=out)
