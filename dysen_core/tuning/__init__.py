"""Specialising the embedded local LLM for Dysen's three tasks (issue 10): a torch copy of a llama-architecture
GGUF, LoRA adapters trained on the planning corpus, and their export as a GGUF adapter llama.cpp applies."""
