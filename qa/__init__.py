"""callqa: on-premise call QA and agent wellbeing for debt-collection call centers."""

__version__ = "0.1.0"
