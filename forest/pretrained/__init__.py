"""The `pretrained` forest: agents that read text prompts through a frozen pretrained LM."""
