class FormatError(ValueError):
    """Bytes that are not a valid recording; the message names the file and the byte offset."""

    def __init__(self, source: str, offset: int | None, problem: str):
        where = f"{source} at byte {offset}" if offset is not None else source
        super().__init__(f"{where}: {problem}")
        self.source = source
        self.offset = offset
        self.problem = problem
