"""Made the artifacts in this folder with remixmusic at commit 0f3b7f5 (the flat layout, before the
subpackages), so tests/test_legacy_artifacts.py can check that files saved by earlier versions still load
and give the same values. Run from a checkout of that commit: ``PYTHONPATH=. python make_legacy.py OUT``.
"""

import json
import sys
from pathlib import Path

import numpy as np
from remixmusic.corpora import load_dataset
from remixmusic.index import Index
from remixmusic.infinigram import InfiniGram
from remixmusic.ngram import NGramModel

from remixmusic.tokenizer import RemiTokenizer, TokenizerConfig

out = Path(sys.argv[1])
ds = load_dataset("bach-chorales")
pieces = ds.pieces("train", jobs=1)[:8]
tok = RemiTokenizer(TokenizerConfig())
seqs = [tok.encode(p) for p in pieces]
train, held = seqs[:6], seqs[6:]

ngram = NGramModel(tok.vocab_size, tok.bos_id, max_order=4).fit(train, held[:1])
ngram.metadata["tokenizer"] = tok.config.to_dict()
ngram.save(out / "ngram")
infini = InfiniGram(tok.vocab_size, tok.bos_id, max_context=16).fit(train)
infini.metadata["tokenizer"] = tok.config.to_dict()
infini.save(out / "infinigram")
index = Index.build(pieces[:6])
index.save(out / "index")

query = index.streams(pieces[6])[0].symbols
length = index.matching_statistics(np.asarray(query, np.int64))[0]
# values as a user gets them: from the saved files (loading attaches the tokenizer's grammar)
ngram = NGramModel.load(out / "ngram")
infini = InfiniGram.load(out / "infinigram")
logp, context = infini.log_probs(held)
expected = {
    "ngram_bits_per_token": ngram.score(held),
    "ngram_order": ngram.order_,
    "infinigram_log_probs": [lp.tolist() for lp in logp],
    "infinigram_context": [c.tolist() for c in context],
    "index_n_slots": int(index.n_slots),
    "index_chance_length": int(index.chance_length),
    "index_piece_names": list(index.piece_names),
    "index_matching_lengths": np.asarray(length).tolist(),
    "index_counts": {
        str(k): int(index.count(np.asarray(s.symbols[:k])))
        for s in index.streams(pieces[2])[:1]
        for k in (3, 6, 12)
    },
}
(out / "expected.json").write_text(json.dumps(expected, indent=1))
