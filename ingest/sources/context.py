"""Download of the official context files (deprivation, registered patients, rurality)
for ``triedbefore ingest-context URL``: the one place this job touches the network. The
file is saved under the cache folder by the digest of its URL and read like a local one;
every failure is one :class:`~triedbefore.ingest.sources.SourceError` line."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from urllib.parse import urlsplit

import requests

from triedbefore.ingest.sources import SourceError
from triedbefore.ingest.sources.client import TIMEOUT, user_agent

#: Largest file accepted (the full registrations file by age is about 100 MB).
MAX_BYTES = 200 * 1024 * 1024


def fetch_context_file(url: str, folder: Path) -> Path:
    """Download ``url`` into ``folder``; returns the file's path."""
    name = Path(urlsplit(url).path).name or "context.csv"
    folder.mkdir(parents=True, exist_ok=True)
    dest = folder / f"{hashlib.sha256(url.encode()).hexdigest()[:16]}-{name}"
    tmp = dest.with_suffix(dest.suffix + ".part")
    try:
        with requests.get(url, timeout=TIMEOUT, stream=True,
                          headers={"User-Agent": user_agent()}) as response:
            if response.status_code != 200:
                raise SourceError(f"{url}: the server answered {response.status_code}")
            size = 0
            with open(tmp, "wb") as fh:
                for block in response.iter_content(1 << 16):
                    size += len(block)
                    if size > MAX_BYTES:
                        raise SourceError(f"{url}: larger than {MAX_BYTES:,} bytes")
                    fh.writelines((block,))  # a file, not the store
    except requests.RequestException as exc:
        tmp.unlink(missing_ok=True)
        raise SourceError(f"{url}: {type(exc).__name__}: cannot be read") from None
    except SourceError:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, dest)
    return dest
