/* Search as you type on the contribution form (templates/contribute.html).
 *
 * Each input with a data-suggest attribute (the JSON address of the suggestions, which
 * answers {"items": [{id, name, detail}]}) fills its <datalist> while the user types:
 * the option's value is the id the form sends, its label the name. Without scripts the
 * field still takes an id (an ODS code, a solution id). No inline scripts, no eval.
 */
(function () {
  "use strict";

  var DELAY_MS = 200;

  function attach(input) {
    var list = document.getElementById(input.getAttribute("list"));
    var address = input.getAttribute("data-suggest");
    var timer = null;
    var asked = "";
    if (!list || !address) {
      return;
    }
    input.addEventListener("input", function () {
      var q = input.value.trim();
      if (timer) {
        clearTimeout(timer);
      }
      if (q.length < 2 || q === asked) {
        return;
      }
      timer = setTimeout(function () {
        asked = q;
        fetch(address + "?q=" + encodeURIComponent(q), {
          headers: { Accept: "application/json" },
          credentials: "same-origin"
        })
          .then(function (response) {
            return response.ok ? response.json() : { items: [] };
          })
          .then(function (data) {
            if (input.value.trim() !== q) {
              return; /* the user typed on: a later answer fills the list */
            }
            while (list.firstChild) {
              list.removeChild(list.firstChild);
            }
            (data.items || []).forEach(function (item) {
              var option = document.createElement("option");
              option.value = item.id;
              option.label = item.name + (item.detail ? " (" + item.detail.replace(/_/g, " ") + ")" : "");
              option.textContent = option.label;
              list.appendChild(option);
            });
          })
          .catch(function () {
            /* no suggestions: the field still takes an id */
          });
      }, DELAY_MS);
    });
  }

  document.querySelectorAll("input[data-suggest]").forEach(attach);
  var summary = document.getElementById("error-summary");
  if (summary) {
    summary.focus();
  }
})();
