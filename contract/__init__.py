"""The public contracts, defined once and imported by every side.

The recording format, the MQTT topics and messages, and the layered configuration of SPEC
sections 3, 5 and 8. Nothing here imports the hardware, the edge or the server.
"""
