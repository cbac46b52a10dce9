"""The Single Assessment Process: versioned assessment forms, jointly written assessments,
scales, joint assessment meetings and care plans copied to the person."""
