"""The LINE channel. Its adapter is `webhook` (verify and parse what LINE sends) and `client` (call the
Messaging API); neither touches tickets."""
