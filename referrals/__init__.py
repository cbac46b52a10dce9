"""Referrals: the service catalogue, routing rules, team queues, response clocks, and
hospital discharge to assess."""
