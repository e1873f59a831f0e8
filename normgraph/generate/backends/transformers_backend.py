"""The in-process backend: a causal LM through ``transformers``, on CUDA in bf16 when torch sees a GPU, on CPU
in fp32 otherwise. The one module of the generator that imports torch and transformers.

A GGUF file is dequantised by transformers (``gguf_file=``; needs the ``gguf`` and ``accelerate`` packages)
once, and saved as a Hugging Face folder under ``HOME/generators`` (``model_files``); later loads read the
folder, which is several times faster. Nothing is downloaded: names are looked up in the local cache only.
"""

from __future__ import annotations

import fcntl
import logging
import shutil
import threading
import time
from pathlib import Path
from typing import Any, Sequence

from normgraph.errors import GeneratorUnavailable
from normgraph.generate.backends.base import ChatMessage, Completion, DecodingParams
from normgraph.generate.backends.model_files import ModelSource

log = logging.getLogger(__name__)

INSTALL_FIX = "pip install 'normgraph[generate]'"


def _imports() -> tuple[Any, Any]:
    try:
        import torch
        import transformers
    except ImportError as e:
        raise GeneratorUnavailable(
            f"the transformers generator backend needs {e.name or 'torch and transformers'}: {INSTALL_FIX}",
            {"missing": e.name, "fix": INSTALL_FIX},
        ) from None
    hf_logging: Any = transformers.utils.logging  # untyped; a server's log needs no per-load progress bars
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    return torch, transformers


def convert_gguf(gguf: Path, folder: Path) -> None:
    """Dequantise ``gguf`` into a Hugging Face folder at ``folder``, once, even with several processes at it."""
    torch, transformers = _imports()
    folder.parent.mkdir(parents=True, exist_ok=True)
    with open(folder.parent / f".{folder.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # a second worker waits here, then finds the folder made
        if (folder / "config.json").is_file():
            return
        started = time.monotonic()
        log.info("converting %s into %s (once)", gguf, folder)
        try:
            tokenizer = transformers.AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
            model = transformers.AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
        except ImportError as e:  # gguf or accelerate missing: transformers raises ImportError/ValueError
            raise GeneratorUnavailable(f"loading a GGUF file needs {e}: {INSTALL_FIX}", {"fix": INSTALL_FIX}) from None
        except (OSError, ValueError) as e:
            raise GeneratorUnavailable(f"cannot read the GGUF file {gguf}: {e}", {"model": str(gguf)}) from None
        # The weights are plain tensors after dequantisation; transformers only refuses to save them because
        # the model still remembers it came from a quantised file.
        model.hf_quantizer = None
        model.is_quantized = False
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        staging = folder.parent / f".{folder.name}.partial"
        shutil.rmtree(staging, ignore_errors=True)
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        staging.rename(folder)  # a reader sees no folder or a whole one
        log.info("converted %s in %.0f s", gguf.name, time.monotonic() - started)


class TransformersBackend:
    name = "transformers"
    supports_scoring = True

    def __init__(self, source: ModelSource | str, *, threads: int = 1) -> None:
        torch, transformers = _imports()
        self._torch = torch
        if isinstance(source, ModelSource):
            if source.gguf is not None and not (source.folder / "config.json").is_file():
                convert_gguf(source.gguf, source.folder)
            where: str | Path = source.folder
            self._model_id = source.model_id
        else:
            where = source
            self._model_id = source
        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        dtype = torch.bfloat16 if self.device == "cuda" else torch.float32
        if self.device == "cpu":
            torch.set_num_threads(threads)
        try:
            self.tokenizer = transformers.AutoTokenizer.from_pretrained(where, local_files_only=True)
            self.model = transformers.AutoModelForCausalLM.from_pretrained(where, dtype=dtype, local_files_only=True)
        except (OSError, ValueError) as e:
            raise GeneratorUnavailable(
                f"cannot load generator model {str(where)!r}: {str(e).splitlines()[0]} (NORMGRAPH_GENERATOR_MODEL; "
                "nothing is downloaded at run time)",
                {"model": str(where)},
            ) from None
        self.model.to(self.device)
        self.model.eval()
        if self.tokenizer.chat_template is None:
            raise GeneratorUnavailable(f"generator model {self._model_id!r} has no chat template: use an instruct model")
        # One generation at a time: seeding is process-global in torch, and two concurrent generate() calls on
        # one CPU model only share the same cores.
        self._lock = threading.Lock()

    @property
    def model_id(self) -> str:
        return self._model_id

    def _encode(self, messages: Sequence[ChatMessage]) -> Any:
        enc = self.tokenizer.apply_chat_template(
            [m.model_dump() for m in messages], add_generation_prompt=True, return_tensors="pt", return_dict=True
        )
        return {k: v.to(self.device) for k, v in enc.items()}

    def generate(self, messages: Sequence[ChatMessage], params: DecodingParams, n: int = 1) -> list[Completion]:
        torch = self._torch
        enc = self._encode(messages)
        prompt_len = int(enc["input_ids"].shape[1])
        sampling: dict[str, Any] = (
            {"do_sample": True, "temperature": params.temperature, "top_p": params.top_p}
            if params.temperature > 0
            else {"do_sample": False}
        )
        eos = self.tokenizer.eos_token_id
        with self._lock, torch.inference_mode():
            started = time.perf_counter()
            torch.manual_seed(params.seed)
            out = self.model.generate(
                **enc,
                max_new_tokens=params.max_new_tokens,
                num_return_sequences=n,
                pad_token_id=self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else eos,
                **sampling,
            )
            seconds = time.perf_counter() - started
        completions = []
        for row in out:
            new = row[prompt_len:].tolist()
            ended = eos in new
            if ended:
                new = new[: new.index(eos)]
            completions.append(
                Completion(
                    text=self.tokenizer.decode(new, skip_special_tokens=True).strip(),
                    prompt_tokens=prompt_len,
                    completion_tokens=len(new),
                    finish_reason="stop" if ended else "length",
                    seconds=round(seconds, 4),
                )
            )
        return completions

    def score(self, messages: Sequence[ChatMessage], continuations: Sequence[str]) -> list[float]:
        torch = self._torch
        prompt = self._encode(messages)["input_ids"][0]
        scores = []
        with self._lock, torch.inference_mode():
            for text in continuations:
                cont = self.tokenizer(text, add_special_tokens=False, return_tensors="pt")["input_ids"][0].to(self.device)
                ids = torch.cat([prompt, cont]).unsqueeze(0)
                logits = self.model(ids).logits[0, len(prompt) - 1 : -1].float()
                logp = torch.log_softmax(logits, dim=-1).gather(1, cont.unsqueeze(1)).sum()
                scores.append(float(logp))
        return scores

    def close(self) -> None:
        self.model = None
