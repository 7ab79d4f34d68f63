"""``--fake``: the embedded fake server's presets, now at home in ``postpress_async.testing``.

A thin re-export kept until the command line imports them from there.
"""

from __future__ import annotations

from postpress_async.testing import fake_dataset, fake_faults, fake_identity, fake_server

__all__ = ["fake_dataset", "fake_faults", "fake_identity", "fake_server"]
