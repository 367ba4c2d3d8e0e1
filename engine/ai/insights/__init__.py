"""What the communication log says about campaigns: performance insights and smart send time.

Numbers first, words second. `facts` computes every number with Polars from the log and the customer
features (`history` reads them), with `chance` deciding which differences are beyond chance and how sure
each rate is; a provider only phrases the facts, writing numbers as placeholders that
`placeholders` checks and fills (`explain` runs the repair and the local fallback; `compose` is the local
writer); `campaign` puts it together for the AI queue. `send_time` suggests a send hour from past
delivery outcomes by local hour, with its evidence.
"""
