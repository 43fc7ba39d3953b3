"""The group conversation: directives, conversation state and the engine that runs turns."""
