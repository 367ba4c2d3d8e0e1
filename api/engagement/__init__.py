"""Opens, clicks and conversions: the tracking links in e-mails, and the engagement of campaigns."""
