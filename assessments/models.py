"""The Single Assessment Process: versioned assessment forms, jointly written assessments,"""
