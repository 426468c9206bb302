"""Who may do what: users, roles, sessions and the audit decision (auth), and label quality."""
