"""The threat-model vocabularies an attack is tagged with: MITRE ATLAS technique ids and the
OWASP Top 10 entries for LLM applications (2025) and for agentic applications (2026).

Each attack names the entries that fit it (``Attack.threat_tags``); ``redteam list attacks
--json`` carries them. Only the ids below may be used, so that a tag always has a name.
"""

from __future__ import annotations

TAG_NAMES = {
    # MITRE ATLAS techniques
    "AML.T0031": "ATLAS: Erode AI Model Integrity",
    "AML.T0029": "ATLAS: Denial of AI Service",
    "AML.T0043.000": "ATLAS: Craft Adversarial Data: White-Box Optimization",
    "AML.T0043.003": "ATLAS: Craft Adversarial Data: Manual Modification",
    "AML.T0046": "ATLAS: Spamming AI System with Chaff Data",
    "AML.T0048.000": "ATLAS: External Harms: Financial Harm",
    "AML.T0051.001": "ATLAS: LLM Prompt Injection: Indirect",
    # OWASP Top 10 for LLM Applications 2025
    "LLM01:2025": "OWASP LLM: Prompt Injection",
    "LLM08:2025": "OWASP LLM: Vector and Embedding Weaknesses",
    "LLM09:2025": "OWASP LLM: Misinformation",
    "LLM10:2025": "OWASP LLM: Unbounded Consumption",
    # OWASP Top 10 for Agentic Applications 2026
    "ASI01": "OWASP agentic: Agent Goal Hijack",
    "ASI03": "OWASP agentic: Identity and Privilege Abuse",
    "ASI06": "OWASP agentic: Memory and Context Poisoning",
    "ASI07": "OWASP agentic: Insecure Inter-Agent Communication",
    "ASI08": "OWASP agentic: Cascading Failures",
    "ASI10": "OWASP agentic: Rogue Agents",
}
