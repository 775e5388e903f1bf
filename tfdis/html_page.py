"""The small HTML toolkit every tfdis report uses (study/aggregate report,
rPU-VAE report): one stylesheet, escaped tables, figures, the page shell and
the same tables as Markdown. Standard library only.

Reports are single files a person opens anywhere: ``figure`` embeds an image
as a data URI unless told to link it.
"""

from __future__ import annotations

import base64
import html
import os
from typing import Callable, Iterable, Sequence

escape = html.escape

CSS = """
body { font-family: -apple-system, Segoe UI, Helvetica, Arial, sans-serif;
       margin: 2em auto; max-width: 1400px; color: #222; }
h1 { font-size: 1.6em; } h2 { font-size: 1.25em; margin-top: 2em;
     border-bottom: 1px solid #ccc; } h3 { font-size: 1.05em; }
.scroll { max-width: 100%; overflow-x: auto; }
table.results { border-collapse: collapse; font-size: 0.8em; margin: 0.5em 0; }
table.results th, table.results td { border: 1px solid #ddd; padding: 3px 6px;
                                     text-align: right; white-space: nowrap; }
table.results th { background: #f3f3f3; white-space: normal;
                   vertical-align: bottom; }
table.results tbody th { white-space: nowrap; text-align: left; }
table.results td:first-child, table.results th:first-child { text-align: left; }
figure { margin: 1em 0; } figcaption { font-size: 0.85em; color: #555; }
img.plot, img { max-width: 100%; } img.plot { border: 1px solid #eee; }
.models { display: flex; gap: 2em; flex-wrap: wrap; }
.model { flex: 1 1 400px; } .model img { max-width: 100%; image-rendering: pixelated; }
.meta { color: #555; font-size: 0.9em; }
"""

_MIME = {"png": "image/png", "gif": "image/gif", "jpg": "image/jpeg",
         "jpeg": "image/jpeg"}


def fmt(value) -> str:
  """A cell: floats to 4 significant digits, None as an en dash."""
  if isinstance(value, float):
    return f"{value:.4g}"
  if value is None:
    return "–"
  return str(value)


def data_uri(path: str) -> str:
  """The file at ``path`` as a base64 data URI (images embedded in a page)."""
  ext = os.path.splitext(path)[1].lower().lstrip(".")
  mime = _MIME.get(ext, "application/octet-stream")
  with open(path, "rb") as f:
    return f"data:{mime};base64," + base64.b64encode(f.read()).decode("ascii")


def table(rows: Iterable[Sequence], header: Sequence[str],
          cell: Callable[[object], str] = fmt) -> str:
  """An escaped HTML table (scrolls sideways instead of overflowing)."""
  head = "".join(f"<th>{escape(str(h))}</th>" for h in header)
  body = "".join("<tr>" + "".join(f"<td>{escape(cell(c))}</td>" for c in row)
                 + "</tr>" for row in rows)
  return (f"<div class='scroll'><table class='results'><thead><tr>{head}"
          f"</tr></thead><tbody>{body}</tbody></table></div>")


def frame_table(frame, float_format: str = "{:.3f}") -> str:
  """A pandas DataFrame as an escaped HTML table (``(empty)`` if none)."""
  if frame is None or not len(frame):
    return "<p><i>(empty)</i></p>"
  return "<div class='scroll'>" + frame.to_html(
      classes="results", border=0, na_rep="–",
      float_format=lambda v: float_format.format(v), escape=True) + "</div>"


def markdown_table(rows: Iterable[Sequence], header: Sequence[str],
                   cell: Callable[[object], str] = fmt) -> str:
  """The same table as :func:`table`, as Markdown (``|`` escaped)."""
  def line(cells):
    return "| " + " | ".join(cell(c).replace("|", "\\|") for c in cells) + " |"
  return "\n".join([line(header), line(["---"] * len(header))] +
                   [line(r) for r in rows]) + "\n"


def figure(path: str, caption: str, embed: bool = True,
           src: str = None) -> str:
  """An image with its caption: embedded (data URI) or linked by ``src``."""
  target = data_uri(path) if embed else (src or os.path.basename(path))
  return (f'<figure><img class="plot" src="{target}" '
          f'alt="{escape(caption)}"><figcaption>{escape(caption)}'
          f" (<code>{escape(os.path.basename(path))}</code>)</figcaption>"
          "</figure>")


def page(title: str, body: Iterable[str], css: str = CSS) -> str:
  """A complete HTML document."""
  return ("<!DOCTYPE html>\n<html><head><meta charset='utf-8'>"
          f"<title>{escape(title)}</title><style>{css}</style></head>"
          "<body>\n" + "\n".join(body) + "\n</body></html>\n")
