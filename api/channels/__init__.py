"""The channels the product can send on, from the registry (`engine.channels`)."""
