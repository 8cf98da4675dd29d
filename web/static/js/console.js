/* Query console enhancement (the page works without it): Ctrl+Enter or Cmd+Enter in the
   editor runs the statement. */
(function () {
  "use strict";
  var form = document.getElementById("console-form");
  var editor = document.getElementById("q");
  if (!form || !editor) { return; }
  editor.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      if (typeof form.requestSubmit === "function") { form.requestSubmit(); } else { form.submit(); }
    }
  });
}());
