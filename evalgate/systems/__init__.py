"""Systems: what answers prompts. `prompting.py` builds chat messages for a suite's examples
(prompt, few-shot, RAG, adapter), `retrieval.py` chunks and searches documents."""

from evalgate.systems.prompting import PreparedSystem, Prompt, System, SystemConfig, load_system

__all__ = ["PreparedSystem", "Prompt", "System", "SystemConfig", "load_system"]
