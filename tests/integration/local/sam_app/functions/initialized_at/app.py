import os
import time

INITIALIZED_AT = time.time()  # the init phase: when the execution environment imported this module


def lambda_handler(event, context):
    return {"initialized_at": INITIALIZED_AT, "pid": os.getpid()}
