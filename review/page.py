"""The packet's HTML: the templates, the one inlined script and its CSP hash, and the offline and hosted variants.

The script is assembled from the source files in `templates/js/` (in name order) into ONE inline <script>,
so the Content-Security-Policy can allow exactly that script by its SHA-256 and nothing else. The words and
verdicts the script shows come in the page's JSON data block (`script_data`), never from the script itself.

The page is rendered once with placeholders for its media links and its CSP; each variant then fills them:
relative links for the offline packet, presigned URLs (and their origins in the CSP) for the hosted copy.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import re
from collections.abc import Callable, Iterable, Mapping
from html import unescape as html_unescape
from pathlib import Path

import jinja2
from markupsafe import Markup, escape

from core.vocabulary import VERDICTS
from review.errors import TemplatesNotFound
from review.labels import SCRIPT_LABELS
from review.labels import VERDICTS as VERDICT_LABELS
from review.views import HostedView, PacketPage

TEMPLATE_NAME = "packet.html.j2"
SCRIPT_DIR = "js"


def templates_dir() -> Path:
    """The packet templates: the repo's templates/ folder, or review/templates inside a wheel install."""
    package_dir = Path(__file__).resolve().parent
    candidates = [package_dir.parent / "templates", package_dir / "templates"]
    for candidate in candidates:
        if (candidate / TEMPLATE_NAME).is_file():
            return candidate
    raise TemplatesNotFound(candidates)


def _part(label: object, lang: str) -> object:
    if type(label) is dict:  # the template's literal labels: checked first, an ABC isinstance is slow
        return label[lang]
    if isinstance(label, Mapping):
        return label[lang]
    return getattr(label, lang)


# bilingual()'s results for plain-text pairs: a packet shows the same few hundred labels thousands of times.
_BILINGUAL: dict[tuple[str, str], Markup] = {}
_BILINGUAL_MAX = 20_000


def _bilingual(vi: object, en: object) -> Markup:
    if en != vi:
        return Markup(f'<span lang="vi">{escape(vi)}</span><span lang="en" class="en"> {escape(en)}</span>')
    return Markup(f"<span>{escape(vi)}</span>")


def bilingual(label: object) -> Markup:
    """Vietnamese, with English beside it when it differs; each escaped (the template's `bi`)."""
    vi, en = _part(label, "vi"), _part(label, "en")
    if type(vi) is not str or type(en) is not str:  # Markup (a str) escapes differently: never from the cache
        return _bilingual(vi, en)
    key = (vi, en)
    made = _BILINGUAL.get(key)
    if made is None:
        if len(_BILINGUAL) >= _BILINGUAL_MAX:
            _BILINGUAL.clear()
        made = _BILINGUAL[key] = _bilingual(vi, en)
    return made


def state_label(kind: str, label: object) -> Markup:
    """A state badge: `bilingual(label)` in a span classed by `kind` (the template's `state`)."""
    return Markup(f'<span class="state state-{escape(kind)}">{bilingual(label)}</span>')


def _bytecode_cache() -> jinja2.BytecodeCache | None:
    try:
        return jinja2.FileSystemBytecodeCache()
    except (OSError, RuntimeError):  # no usable temp folder: compile in every process, as before
        return None


@functools.lru_cache(maxsize=1)
def template_environment() -> jinja2.Environment:
    """Jinja2 environment of the packet: autoescape on for every template, undefined names are errors.

    One per process, so templates are compiled once (Jinja reloads a template whose file changed). The
    compiled template is also kept between processes in Jinja's own per-user cache folder (0700, checked by
    Jinja), keyed by the template's source: compiling the packet's template costs a third of a second, as
    much as rendering 2,000 clips.
    """
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(templates_dir()),
        bytecode_cache=_bytecode_cache(),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    # Python rather than Jinja macros: a macro call costs ten times as much, and these are the most called.
    environment.globals.update(bi=bilingual, state=state_label)
    return environment


def script_sources(folder: Path) -> list[Path]:
    """The script's source files, in the order they are joined (their names sort in that order)."""
    return sorted(p for p in (folder / SCRIPT_DIR).glob("*.js") if p.is_file())


@functools.lru_cache(maxsize=4)
def _script(stamp: tuple[tuple[str, int], ...]) -> tuple[str, str]:
    parts = []
    for name, _mtime in stamp:
        text = Path(name).read_text(encoding="utf-8")
        if "</" in text:
            raise ValueError(f"{name} must not contain '</' (it is inlined in a script element)")
        parts.append(text if text.endswith("\n") else text + "\n")
    script = "".join(parts)
    digest = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii")
    return script, f"sha256-{digest}"


def packet_script() -> tuple[str, str]:
    """The page's script and its CSP source ("sha256-<base64>"): the only script the page may run."""
    sources = script_sources(templates_dir())
    if not sources:
        raise TemplatesNotFound([templates_dir() / SCRIPT_DIR])
    return _script(tuple((str(p), p.stat().st_mtime_ns) for p in sources))


def json_for_script(value: object) -> Markup:
    """JSON safe inside a <script type="application/json"> element: '<', '>' and '&' escaped as \\u00XX."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return Markup(text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def script_data(film_id: str, packet_id: str, manifest_sha256: str, as_of: str, imported: Iterable[str],
                cut: Mapping[str, object] | None = None) -> Markup:
    """The page's data block: the packet's identity, notes already imported, the script's words and the film's
    map (record clock and pieces, `editorial.resolve.CutMap.to_json`) when the packet shows a cut."""
    words = {key: {"vi": label.vi, "en": label.en} for key, label in SCRIPT_LABELS.items()}
    verdicts = [{"id": v, "vi": VERDICT_LABELS[v].vi, "en": VERDICT_LABELS[v].en} for v in VERDICTS]
    return json_for_script({
        "film": film_id,
        "packet_id": packet_id,
        "manifest_sha256": manifest_sha256,
        "as_of": as_of,
        "imported": sorted(imported),
        "verdicts": verdicts,
        "words": words,
        "cut": dict(cut) if cut is not None else None,
    })


def csp(script_hash: str, origins: Iterable[str]) -> str:
    """The page's Content-Security-Policy: its one script, no network, media from itself (and `origins`).

    Media may also be data: URLs: the film's subtitles and chapters are WebVTT carried inside the page."""
    extra = "".join(f" {origin}" for origin in sorted(set(origins)))
    return (
        f"default-src 'none'; script-src '{script_hash}'; style-src 'unsafe-inline'; "
        f"img-src 'self' data:{extra}; media-src 'self' data:{extra}; base-uri 'none'; form-action 'none'"
    )


# Placeholders the template is rendered with once; user text cannot contain them, as its '<' is escaped.
_URL_MARK = re.compile(r"<!--url:([^>]*)-->")
_CSP_MARK = "<!--csp-->"


def _url_placeholder(name: str) -> Markup:
    return Markup(f"<!--url:{escape(name)}-->")


def render_once(page: PacketPage, hosted: HostedView | None) -> str:
    """The page with placeholders for its links and CSP, both variants' blocks marked (see the template)."""
    template = template_environment().get_template(TEMPLATE_NAME)
    return template.render(**page.template_names(), url=_url_placeholder, csp=Markup(_CSP_MARK),
                           script=Markup(packet_script()[0]), hosted=hosted)


def variant(page: str, link: Callable[[str], str] | Mapping[str, str], origins: Iterable[str],
            keep: str | None) -> str:
    """One variant of a page from `render_once`: its blocks kept, the other's dropped, links and CSP filled."""
    resolve = link.__getitem__ if isinstance(link, Mapping) else link
    if keep is not None:
        drop = "offline" if keep == "hosted" else "hosted"
        page = re.sub(rf"<!--docfilm:{drop}-->.*?<!--/docfilm:{drop}-->\n?", "", page, flags=re.S)
        page = page.replace(f"<!--docfilm:{keep}-->\n", "").replace(f"<!--/docfilm:{keep}-->\n", "")
    page = page.replace(_CSP_MARK, str(escape(csp(packet_script()[1], origins))), 1)
    return _URL_MARK.sub(lambda m: str(escape(resolve(html_unescape(m.group(1))))), page)
