"""What visitors ask and what the docs lack: the conversation log, analytics, the review
queue and the owner's dashboard."""
