/* Progressive enhancement, loaded (defer) on every page by templates/base.html.
 *
 * Site map: an element #site-map with a data-sites attribute (JSON list of
 * {id, name, lat, lon, kind, url}) holds a server-rendered SVG map (web/geo.py). When
 * the vendored Leaflet (served by /vendor/, see web/graphview.py) loads, the sites are
 * drawn as circle markers on a Leaflet map and the SVG is hidden; otherwise the SVG
 * stays. OpenStreetMap tiles are used only if one test tile loads within a short time
 * (and not at all with data-tiles="off"); else the map shows the offline outlines of
 * England and Wales (static/geo/england_outline.json, wales_outline.json).
 * No inline scripts, no eval (a Content Security Policy will forbid both).
 */
(function () {
  "use strict";

  var TILE_URL = "https://tile.openstreetmap.org/{z}/{x}/{y}.png";
  var TILE_PROBE = "https://tile.openstreetmap.org/5/15/10.png";
  var TILE_TIMEOUT_MS = 2500;
  var OSM_ATTRIBUTION =
    '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors';
  var OUTLINE_ATTRIBUTION =
    "Outlines of England and Wales from postcode district centroids: contains OS data " +
    "&copy; Crown " +
    "copyright and database right; contains Royal Mail data &copy; Royal Mail copyright " +
    "and database right; contains National Statistics data &copy; Crown copyright and " +
    "database right";

  /* The application's root URL, from this script's own address (…/static/js/enhance.js). */
  var script = document.currentScript;
  var root = "/";
  if (script && script.src) {
    var at = script.src.search(/static\/js\/enhance\.js(\?.*)?$/);
    if (at > 0) {
      root = script.src.slice(0, at);
    }
  }

  function loadScript(src) {
    return new Promise(function (resolve, reject) {
      var el = document.createElement("script");
      el.src = src;
      el.async = true;
      el.onload = resolve;
      el.onerror = function () { reject(new Error("could not load " + src)); };
      document.head.appendChild(el);
    });
  }

  function loadCss(href) {
    return new Promise(function (resolve, reject) {
      var el = document.createElement("link");
      el.rel = "stylesheet";
      el.href = href;
      el.onload = resolve;
      el.onerror = function () { reject(new Error("could not load " + href)); };
      document.head.appendChild(el);
    });
  }

  /* Resolves true if one tile image loads within the time limit. */
  function tilesReachable() {
    return new Promise(function (resolve) {
      var img = new Image();
      var done = false;
      var timer = window.setTimeout(function () { finish(false); }, TILE_TIMEOUT_MS);
      function finish(ok) {
        if (done) { return; }
        done = true;
        window.clearTimeout(timer);
        img.onload = img.onerror = null;
        resolve(ok);
      }
      img.onload = function () { finish(img.naturalWidth > 0); };
      img.onerror = function () { finish(false); };
      img.referrerPolicy = "strict-origin-when-cross-origin";
      img.src = TILE_PROBE;
    });
  }

  function loadRing(name) {
    return window.fetch(root + "static/geo/" + name, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .catch(function () { return null; });
  }

  /* The outlines drawn without tiles: England's and Wales's rings (those that loaded). */
  function loadOutline() {
    return Promise.all([loadRing("england_outline.json"), loadRing("wales_outline.json")])
      .then(function (rings) {
        return rings.filter(function (r) { return Array.isArray(r) && r.length > 2; });
      });
  }

  function parseSites(el) {
    var sites;
    try {
      sites = JSON.parse(el.getAttribute("data-sites") || "[]");
    } catch (e) {
      return [];
    }
    if (!Array.isArray(sites)) { return []; }
    return sites.filter(function (s) {
      return s && typeof s.lat === "number" && typeof s.lon === "number" &&
        isFinite(s.lat) && isFinite(s.lon) && Math.abs(s.lat) <= 90 && Math.abs(s.lon) <= 180;
    });
  }

  /* Only local paths and http(s) links; a site without url goes to its explorer page. */
  function siteUrl(site) {
    var url = typeof site.url === "string" ? site.url : "";
    if (url) {
      if ((url.charAt(0) === "/" && url.charAt(1) !== "/") || /^https?:\/\//i.test(url)) {
        return url;
      }
      return null;
    }
    if (site.id === undefined || site.id === null || site.id === "") { return null; }
    return root + "sites/" + encodeURIComponent(String(site.id));
  }

  /* Tooltip and popup content built as DOM nodes (never as HTML strings). */
  function label(site, withLink) {
    var box = document.createElement("span");
    var name = String(site.name || site.id || "unnamed site");
    var url = withLink ? siteUrl(site) : null;
    var main;
    if (url) {
      main = document.createElement("a");
      main.href = url;
    } else {
      main = document.createElement("strong");
    }
    main.textContent = name;
    box.appendChild(main);
    if (site.kind) {
      box.appendChild(document.createTextNode(" (" + String(site.kind).replace(/_/g, " ") + ")"));
    }
    return box;
  }

  function drawMap(el, sites, tiles, outline) {
    var L = window.L;
    var svg = el.querySelector("svg");
    var height = svg && svg.getAttribute("height") ? parseInt(svg.getAttribute("height"), 10) : 0;
    var holder = document.createElement("div");
    holder.className = "leaflet-site-map";
    holder.style.height = Math.max(260, height || 360) + "px";
    holder.style.width = "100%";
    holder.setAttribute("role", "region");
    holder.setAttribute("aria-label", (svg && svg.getAttribute("aria-label")) || "Map of sites");
    el.insertBefore(holder, el.firstChild);
    try {
      build(L, holder, sites, tiles, outline);
    } catch (e) {
      el.removeChild(holder); /* keep the server-rendered SVG */
      return;
    }
    if (svg) { svg.style.display = "none"; }
  }

  function build(L, holder, sites, tiles, outline) {
    var map = L.map(holder, { scrollWheelZoom: false, zoomSnap: 0.5 });
    var bounds = L.latLngBounds([]);
    if (tiles) {
      L.tileLayer(TILE_URL, { maxZoom: 19, attribution: OSM_ATTRIBUTION }).addTo(map);
    } else if (Array.isArray(outline) && outline.length > 0) {
      outline.forEach(function (points) {
        var ring = points.map(function (p) { return [p[1], p[0]]; });
        L.polygon(ring, {
          color: "#aeb7bd", weight: 1, fillColor: "#e8edee", fillOpacity: 1, interactive: false
        }).addTo(map);
        bounds.extend(L.latLngBounds(ring));
      });
      map.attributionControl.addAttribution(OUTLINE_ATTRIBUTION);
    }
    sites.forEach(function (site) {
      var marker = L.circleMarker([site.lat, site.lon], {
        radius: 7, color: "#ffffff", weight: 2, fillColor: "#005eb8", fillOpacity: 0.9
      });
      marker.bindTooltip(label(site, false));
      marker.bindPopup(label(site, true));
      marker.addTo(map);
      bounds.extend([site.lat, site.lon]);
    });
    if (tiles && sites.length === 1) {
      map.setView([sites[0].lat, sites[0].lon], 10);
    } else if (bounds.isValid()) {
      map.fitBounds(bounds, { padding: [20, 20], maxZoom: tiles ? 11 : 8 });
    } else {
      map.setView([52.8, -1.6], 6);
    }
  }

  function enhanceSiteMap(el) {
    var sites = parseSites(el);
    if (!sites.length || !window.Promise || !window.fetch) { return; }
    var wantTiles = el.getAttribute("data-tiles") !== "off";
    var leaflet = Promise.all([
      loadCss(root + "vendor/leaflet/dist/leaflet.css"),
      loadScript(root + "vendor/leaflet/dist/leaflet.js")
    ]);
    var tiles = wantTiles ? tilesReachable() : Promise.resolve(false);
    leaflet
      .then(function () { return tiles; })
      .then(function (ok) {
        return ok ? [true, null] : loadOutline().then(function (o) { return [false, o]; });
      })
      .then(function (r) {
        if (!window.L || typeof window.L.map !== "function") { return; }
        drawMap(el, sites, r[0], r[1]);
      })
      .catch(function () { /* keep the server-rendered SVG */ });
  }

  var siteMap = document.getElementById("site-map");
  if (siteMap) {
    enhanceSiteMap(siteMap);
  }
})();

/* Time travel on the solution page: the year slider (a plain GET form without
 * JavaScript) shows the year as it moves and, when let go, opens the page as of the
 * last day of that year, so the address keeps the date (?as_of=YYYY-12-31). */
(function () {
  "use strict";
  var form = document.querySelector("form.as-of-years");
  if (!form) { return; }
  var slider = form.querySelector("input[type=range]");
  var shown = form.querySelector("output");
  if (!slider) { return; }
  slider.addEventListener("input", function () {
    if (shown) { shown.textContent = slider.value; }
  });
  slider.addEventListener("change", function () {
    var url = new URL(window.location.href);
    url.searchParams.delete("year");
    url.searchParams.set("as_of", slider.value + "-12-31");
    window.location.assign(url.toString());
  });
}());

/* Small screens. The search filters fold into a <details> (open on wide screens, closed
 * on narrow ones, where the results would otherwise sit under a long list of filters);
 * a table's scroll box that does scroll becomes a named, focusable region, so that a
 * keyboard can scroll it too (web/app.py puts every table in one). */
(function () {
  "use strict";
  if (!window.matchMedia) { return; }
  var narrow = window.matchMedia("(max-width: 50rem)");

  var aside = document.querySelector(".with-facets > aside");
  var heading = aside && aside.querySelector("h2");
  if (aside && heading && !aside.querySelector("details")) {
    var details = document.createElement("details");
    details.className = "facets";
    var summary = document.createElement("summary");
    var chosen = aside.querySelectorAll("li strong").length;
    /* the words come from the page, in its language */
    var folded = aside.getAttribute("data-folded") || "Filters";
    var many = aside.getAttribute("data-chosen") || "{n} chosen";
    summary.textContent = folded + (chosen ? " (" + many.replace("{n}", chosen) + ")" : "");
    details.appendChild(summary);
    while (heading.nextSibling) { details.appendChild(heading.nextSibling); }
    aside.appendChild(details);
    details.open = !narrow.matches;
    var follow = function (e) { details.open = !e.matches; };
    if (narrow.addEventListener) { narrow.addEventListener("change", follow); }
  }

  function labelScrollers() {
    var boxes = document.querySelectorAll(".table-scroll");
    Array.prototype.forEach.call(boxes, function (box, i) {
      if (box.scrollWidth > box.clientWidth + 1) {
        if (!box.hasAttribute("tabindex")) {
          var title = box.querySelector("caption");
          var section = box.closest("section");
          var named = title || (section && section.querySelector("h2, h3")) ||
            document.querySelector("main h1");
          box.setAttribute("tabindex", "0");
          box.setAttribute("role", "region");
          box.setAttribute("aria-label", (named ? named.textContent.trim() + ": " : "") +
            "table " + (i + 1) + ", scrolls sideways");
        }
      } else if (box.getAttribute("role") === "region") {
        box.removeAttribute("tabindex");
        box.removeAttribute("role");
        box.removeAttribute("aria-label");
      }
    });
  }
  labelScrollers();
  window.addEventListener("resize", labelScrollers);
}());
