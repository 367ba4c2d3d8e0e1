"""The delivery vendor's callbacks: `POST /v1/receipts`, signed per Standard Webhooks instead of a token."""
