"""A tiny shared layer: the domain error the state machine routes on."""

import os

import boto3


class InvalidDataset(Exception):
    """The uploaded object is not a usable dataset."""


def table():
    return boto3.resource("dynamodb").Table(os.environ["TABLE_NAME"])
