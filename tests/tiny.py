"""Tiny random chat models for tests: a byte-level BPE tokenizer trained here and a 2-layer Llama.

Nothing is downloaded. The chat template is SmolLM2's (ChatML), so prompts are rendered the same
way as with the embedded model.
"""

from __future__ import annotations

from pathlib import Path

CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]

CORPUS = [
    "My order ORD-123456 has not arrived yet, where is it?",
    "Siparişim ORD-654321 hala gelmedi, lütfen yardım edin.",
    '{"intent": "order_status", "priority": "high", "order_id": "ORD-123456", "language": "en"}',
    "The capital of France is Paris. The answer is A, B, C or D.",
    "Return window is 30 days. Shipping fee is 4.99 EUR. Warranty lasts two years.",
    "system user assistant You are a helpful assistant. Answer with JSON only.",
    "abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ 0123456789 çğıöşüÇĞİÖŞÜ",
] * 20


def build_tokenizer(folder: Path):
    """Train a small byte-level BPE tokenizer with ChatML specials and save it to `folder`."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tokenizer.train_from_iterator(CORPUS, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        bos_token="<|im_start|>",
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        unk_token="<|endoftext|>",
    )
    fast.chat_template = CHAT_TEMPLATE
    fast.save_pretrained(folder)
    return fast


def build_tiny_llama(folder: Path, seed: int = 0, hidden_size: int = 16,
                     initializer_range: float = 0.02, max_positions: int = 512) -> Path:
    """Write a random 2-layer Llama (hidden size 16) plus its tokenizer into `folder`.

    A larger `initializer_range` (e.g. 0.5) gives embeddings large enough for a LoRA adapter to
    make the output distribution peaked (the embeddings and norms are not trained): use it where
    a test needs training to actually learn a task."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    folder.mkdir(parents=True, exist_ok=True)
    tokenizer = build_tokenizer(folder)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=2 * hidden_size,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=max_positions,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=True,
        initializer_range=initializer_range,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.save_pretrained(folder)
    return folder
