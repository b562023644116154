"""A small HTTP server speaking LibreTranslate's API (``GET /languages``, ``POST /translate``), backed by Argos.

The real ``libretranslate`` package pins versions that clash with Borderless' own (see docs/translation.md), so
tests run the ``libretranslate`` backend against this instead: same endpoints, fields, error shape and API-key
rule, translations by argostranslate with whatever packages are given on the command line.

    python tests/libretranslate_server.py --port 5000 [--api-key KEY] translate-en_de-1_0.argosmodel ...
"""

from __future__ import annotations

import argparse
import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--api-key")
    parser.add_argument("packages", nargs="*")
    args = parser.parse_args()

    import argostranslate.package
    import argostranslate.translate

    for path in args.packages:
        argostranslate.package.install_from_path(path)
    languages = argostranslate.translate.get_installed_languages()
    table = [{"code": lang.code, "name": lang.name,
              "targets": sorted(o.code for o in languages if o.code != lang.code and lang.get_translation(o))}
             for lang in languages]

    class Handler(BaseHTTPRequestHandler):
        def _json(self, status: int, body: object) -> None:
            data = json.dumps(body).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            if self.path.split("?")[0] == "/languages":
                self._json(200, table)
            else:
                self._json(404, {"error": "Not found"})

        def do_POST(self) -> None:  # noqa: N802
            if self.path.split("?")[0] != "/translate":
                self._json(404, {"error": "Not found"})
                return
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode("utf-8")
            if (self.headers.get("Content-Type") or "").startswith("application/json"):
                body = json.loads(raw or "{}")
            else:
                body = {k: v[0] for k, v in parse_qs(raw).items()}
            if args.api_key and body.get("api_key") != args.api_key:
                self._json(403, {"error": "Invalid API key"})
                return
            q, source, target = body.get("q"), body.get("source"), body.get("target")
            if not q or not source or not target:
                self._json(400, {"error": "Invalid request: missing q, source or target"})
                return
            by_code = {lang.code: lang for lang in languages}
            translation = by_code[source].get_translation(by_code[target]) if source in by_code and \
                target in by_code else None
            if translation is None:
                self._json(400, {"error": f"{source} -> {target} is not supported"})
                return
            self._json(200, {"translatedText": translation.translate(q)})

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

    ThreadingHTTPServer(("127.0.0.1", args.port), Handler).serve_forever()


if __name__ == "__main__":
    main()
